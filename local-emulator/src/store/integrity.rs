//! Checks at start-up that the store is whole, so the emulator never starts silently with
//! acknowledged messages missing:
//! - the write-ahead log is read frame by frame before SQLite opens it. SQLite replays frames
//!   up to the first one whose checksum fails and silently drops the rest; a torn last
//!   transaction after a crash is expected (it was never acknowledged), but frames of the
//!   current log that follow a bad one are committed changes SQLite would lose;
//! - the database file's length against its header (a truncated file), and SQLite's
//!   `quick_check` on the tables a start reads (a damaged file).

use std::path::Path;

/// What the write-ahead log holds.
#[derive(Debug, PartialEq, Eq)]
pub struct WalReport {
    /// Frames SQLite will replay (up to the last valid commit).
    pub valid_frames: usize,
    /// Frames of the current log after the first one that fails its checksum: SQLite ignores
    /// them, and the commits among them are lost.
    pub lost_frames: usize,
    pub lost_commits: usize,
}

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;

/// Reads the WAL at `path`; None when there is none (or it is empty).
pub fn inspect_wal(path: &Path) -> Option<WalReport> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < HEADER {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().expect("4 bytes"));
    let magic = be(&bytes[0..4]);
    if magic & !1 != 0x377f_0682 {
        return None;
    }
    let big_endian = magic & 1 == 1;
    let page_size = be(&bytes[8..12]) as usize;
    let salts = &bytes[16..24];
    let mut sums = checksum(&bytes[..24], (0, 0), big_endian);
    if sums != (be(&bytes[24..28]), be(&bytes[28..32])) || page_size == 0 {
        return None; // a header SQLite would not use either: nothing is replayed from it
    }
    let frame_len = FRAME_HEADER + page_size;
    let mut report = WalReport {
        valid_frames: 0,
        lost_frames: 0,
        lost_commits: 0,
    };
    let mut broken = false;
    let mut offset = HEADER;
    while offset + frame_len <= bytes.len() {
        let frame = &bytes[offset..offset + frame_len];
        offset += frame_len;
        let of_this_log = &frame[8..16] == salts;
        if broken {
            // After a bad frame nothing can be verified (checksums chain), but frames that
            // carry this log's salts were written to it, after the damage.
            if of_this_log {
                report.lost_frames += 1;
                report.lost_commits += usize::from(be(&frame[4..8]) != 0);
            }
            continue;
        }
        if !of_this_log {
            break; // the rest is left over from before the last checkpoint: not replayed
        }
        let next = checksum(
            &frame[FRAME_HEADER..],
            checksum(&frame[..8], sums, big_endian),
            big_endian,
        );
        if next != (be(&frame[16..20]), be(&frame[20..24])) {
            broken = true;
            report.lost_frames += 1;
            report.lost_commits += usize::from(be(&frame[4..8]) != 0);
            continue;
        }
        sums = next;
        report.valid_frames += 1;
    }
    // A torn write at the very end (a crash mid-transaction) loses nothing acknowledged: only
    // a commit frame that verifies would have been acknowledged, and it must be followed by
    // a frame that fails for anything to be lost.
    if report.lost_commits == 0 {
        report.lost_frames = 0;
    }
    Some(report)
}

/// SQLite's WAL checksum over 8-byte chunks, continuing from `(s0, s1)`.
fn checksum(data: &[u8], (mut s0, mut s1): (u32, u32), big_endian: bool) -> (u32, u32) {
    let word = |b: &[u8]| {
        let b: [u8; 4] = b.try_into().expect("4 bytes");
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    for chunk in data.chunks_exact(8) {
        s0 = s0.wrapping_add(word(&chunk[0..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(word(&chunk[4..8])).wrapping_add(s0);
    }
    (s0, s1)
}

/// `quick_check` of the tables a start reads (everything but the messages' contents, which
/// are read when delivered and checked then: a damaged content row is an error for that
/// message, and reading all of them would make a start as slow as the backlog is large):
/// Ok, or what SQLite found.
pub fn quick_check(conn: &rusqlite::Connection, tables: &[&str]) -> Result<(), String> {
    let mut findings = Vec::new();
    for table in tables {
        let mut stmt = conn
            .prepare(&format!("PRAGMA quick_check({table})"))
            .map_err(|e| e.to_string())?;
        let found: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())?
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        findings.extend(found.into_iter().filter(|f| f != "ok"));
    }
    if findings.is_empty() {
        Ok(())
    } else {
        findings.truncate(20);
        Err(findings.join("; "))
    }
}

/// Whether the database file is as long as its header says (a truncated file is not), read
/// from the header alone. The header's page count is trusted only when SQLite marks it valid
/// (its version-valid-for number equals the change counter).
pub fn check_length(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let Ok(mut file) = std::fs::File::open(path) else {
        return Ok(());
    };
    let mut header = [0u8; 100];
    if file.read_exact(&mut header).is_err() {
        return Ok(()); // empty or new: SQLite decides
    }
    let be = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    let (change_counter, pages, valid_for) = (be(24), u64::from(be(28)), be(92));
    let len = file.metadata().map_or(0, |m| m.len());
    if valid_for == change_counter && pages > 0 && len < pages * page_size {
        return Err(format!(
            "the file is {len} bytes where its header says {} (truncated)",
            pages * page_size
        ));
    }
    Ok(())
}
