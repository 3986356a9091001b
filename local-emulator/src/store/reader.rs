//! Reading what messages say back from the store, for deliveries and browsing.
//!
//! A durable queue keeps only its index in memory; a receive takes its messages under the
//! queue's lock and then asks here for their contents. Most come from the [`ContentCache`]
//! (sent moments ago, or read ahead); a miss reads the store through a pool of read
//! connections (SQLite in WAL mode: readers never wait for the writer), together with the
//! messages about to be delivered next, in one pass in sequence order. Sealed rows are opened
//! here, each reader with its own copy of the keyring.
//!
//! Reads block: callers run them on tokio's blocking pool.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::cache::ContentCache;
use super::sealing::{Keyring, Sealer};
use super::stored_content::{self, Row};
use crate::queue::message::Content;

/// At most this many messages are read ahead per miss.
const READ_AHEAD_ROWS: usize = 256;
/// Idle read connections kept open.
const IDLE_READERS: usize = 4;

/// A message's content as a read found it.
#[derive(Debug, Clone)]
pub enum Fetched {
    Found(Arc<Content>),
    /// Deleted (or moved and deleted) since it was handed out: nothing to deliver.
    Gone,
    /// Its row cannot be read or opened: why.
    Unreadable(String),
}

pub struct ContentReader {
    path: PathBuf,
    keyring: PathBuf,
    idle: Mutex<Vec<Reader>>,
    cache: ContentCache,
    /// Bytes a read-ahead may bring into the cache at once.
    read_ahead_bytes: usize,
    /// Per queue, the messages the last read-ahead brought in (by sequence number): once
    /// deliveries are half way through them, the next read-ahead starts in the background.
    windows: Mutex<HashMap<u64, Window>>,
    pub stats: ReadStats,
}

#[derive(Clone, Copy)]
struct Window {
    from: u64,
    to: u64,
    /// A read-ahead of this queue is running.
    busy: bool,
}

/// What the readers did since the emulator started (for `/metrics`).
#[derive(Default)]
pub struct ReadStats {
    /// Contents of deliveries found in the cache.
    pub hits: Counter,
    /// Contents read from the store (deliveries, read-ahead and browsing).
    pub reads: Counter,
    /// Contents that could not be read or opened.
    pub unreadable: Counter,
}

struct Reader {
    conn: Connection,
    sealer: Sealer,
}

impl ContentReader {
    pub fn new(path: PathBuf, keyring: PathBuf, cache_bytes: usize) -> Self {
        Self {
            path,
            keyring,
            idle: Mutex::new(Vec::new()),
            cache: ContentCache::new(cache_bytes),
            read_ahead_bytes: cache_bytes / 8,
            windows: Mutex::new(HashMap::new()),
            stats: ReadStats::default(),
        }
    }

    /// Keeps a message just sent (it is often received moments later) if the cache has room.
    pub fn remember(&self, seq: u64, content: Arc<Content>) {
        self.cache.insert_if_room(seq, content);
    }

    /// Drops a deleted message's content.
    pub fn forget(&self, seq: u64) {
        self.cache.remove(seq);
    }

    /// A delivery's content if the cache holds it (counted as a hit).
    pub fn cached(&self, seq: u64) -> Option<Arc<Content>> {
        let found = self.cache.get(seq);
        if found.is_some() {
            self.stats.hits.inc();
        }
        found
    }

    pub fn cached_bytes(&self) -> usize {
        self.cache.bytes()
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Window>> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether queue `queue_id`'s deliveries, now at `delivered`, are half way through what
    /// the last read-ahead brought in, and no read-ahead is running: then it answers where
    /// that read-ahead ended, the caller starts the next one from there
    /// ([`ContentReader::read_ahead`]), and it is marked running. A queue whose deliveries
    /// never missed the cache has no window and never reads ahead.
    pub fn wants_read_ahead(&self, queue_id: u64, delivered: u64) -> Option<u64> {
        let mut windows = self.windows();
        match windows.get_mut(&queue_id) {
            Some(w) if !w.busy && delivered >= w.from + (w.to - w.from) / 2 => {
                w.busy = true;
                Some(w.to)
            }
            _ => None,
        }
    }

    /// Reads `ahead` (the messages queue `queue_id` delivers after its last read-ahead, in
    /// sequence order) into the cache (blocking), and records them as its window.
    pub fn read_ahead(&self, queue_id: u64, ahead: &[u64]) {
        let ahead = &ahead[..ahead.len().min(READ_AHEAD_ROWS)];
        if !ahead.is_empty() {
            let read = self.with_reader(|r| r.read(&[], ahead, self.read_ahead_bytes));
            if let Ok(read) = read {
                self.count(read.iter().map(|(_, f)| f));
                for (seq, fetched) in read {
                    if let Fetched::Found(content) = fetched {
                        self.cache.insert(seq, content);
                    }
                }
            }
        }
        self.set_window(queue_id, ahead);
    }

    fn set_window(&self, queue_id: u64, ahead: &[u64]) {
        let mut windows = self.windows();
        match (ahead.first(), ahead.last()) {
            (Some(&from), Some(&to)) => {
                windows.insert(
                    queue_id,
                    Window {
                        from,
                        to,
                        busy: false,
                    },
                );
            }
            _ => {
                windows.remove(&queue_id);
            }
        }
    }

    /// The contents of `wanted` (blocking): from the cache, else from the store, reading
    /// `ahead` (the messages to be delivered next, in sequence order) into the cache in the
    /// same pass, which becomes queue `queue_id`'s read-ahead window.
    pub fn fetch(&self, queue_id: u64, wanted: &[u64], ahead: &[u64]) -> Vec<Fetched> {
        let mut found: HashMap<u64, Fetched> = HashMap::new();
        let mut missing = Vec::new();
        for &seq in wanted {
            match self.cache.get(seq) {
                Some(content) => {
                    found.insert(seq, Fetched::Found(content));
                }
                None => missing.push(seq),
            }
        }
        missing.sort_unstable();
        if !missing.is_empty() {
            let uncached: Vec<u64> = ahead
                .iter()
                .copied()
                .filter(|seq| !self.cache.contains(*seq))
                .take(READ_AHEAD_ROWS)
                .collect();
            match self.with_reader(|r| r.read(&missing, &uncached, self.read_ahead_bytes)) {
                Ok(read) => {
                    self.count(read.iter().map(|(_, f)| f));
                    for (seq, fetched) in read {
                        let wanted_now = missing.binary_search(&seq).is_ok();
                        match (&fetched, wanted_now) {
                            (Fetched::Found(content), false) => {
                                self.cache.insert(seq, content.clone())
                            }
                            (_, false) => continue,
                            (_, true) => {}
                        }
                        found.insert(seq, fetched);
                    }
                }
                Err(why) => {
                    for seq in &missing {
                        found.insert(*seq, Fetched::Unreadable(why.clone()));
                    }
                }
            }
            self.set_window(queue_id, ahead);
        }
        wanted
            .iter()
            .map(|seq| found.get(seq).cloned().unwrap_or(Fetched::Gone))
            .collect()
    }

    /// The contents of `wanted` (blocking) without filling the cache (the console browsing a
    /// queue must not push out what receives are about to use).
    pub fn browse(&self, wanted: &[u64]) -> Vec<Fetched> {
        let read = self.with_reader(|r| {
            Ok(wanted
                .iter()
                .map(|seq| match self.cache.get(*seq) {
                    Some(content) => Fetched::Found(content),
                    None => r.point(*seq),
                })
                .collect::<Vec<_>>())
        });
        let read = read.unwrap_or_else(|why| vec![Fetched::Unreadable(why); wanted.len()]);
        self.count(read.iter());
        read
    }

    fn count<'a>(&self, read: impl Iterator<Item = &'a Fetched>) {
        for fetched in read {
            match fetched {
                Fetched::Found(_) => self.stats.reads.inc(),
                Fetched::Unreadable(_) => self.stats.unreadable.inc(),
                Fetched::Gone => 0,
            };
        }
    }

    /// Runs `f` with an idle reader (opening one if none is idle) and puts it back.
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&mut Reader) -> Result<T, String>,
    ) -> Result<T, String> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut reader = match idle {
            Some(reader) => reader,
            None => Reader::open(&self.path, &self.keyring)?,
        };
        let value = f(&mut reader);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(reader);
        }
        value
    }
}

impl Reader {
    fn open(path: &std::path::Path, keyring: &std::path::Path) -> Result<Self, String> {
        let cannot =
            |e: rusqlite::Error| format!("cannot open a reader of {}: {e}", path.display());
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(cannot)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(cannot)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(cannot)?;
        Ok(Self {
            conn,
            sealer: Sealer::new(Keyring::open(keyring)?),
        })
    }

    /// One message by sequence number.
    fn point(&mut self, seq: u64) -> Fetched {
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM message_contents WHERE seq = ?1",
                stored_content::COLUMNS
            ))
            .and_then(|mut stmt| stmt.query_row([seq as i64], Row::from_sql).optional());
        match row {
            Ok(Some(row)) => self.decode(row),
            Ok(None) => Fetched::Gone,
            Err(e) => Fetched::Unreadable(format!("the store cannot read it: {e}")),
        }
    }

    fn decode(&mut self, row: Row) -> Fetched {
        let id = row.id();
        match row.into_content(&mut self.sealer) {
            Ok(content) => Fetched::Found(Arc::new(content)),
            Err(why) => Fetched::Unreadable(format!(
                "message {}: {why}",
                crate::queue::message::format_message_id(id)
            )),
        }
    }

    /// `missing` (sorted) and `ahead`: where they lie close together in sequence order, one
    /// range scan; else one lookup each. The read-ahead stops at `ahead_bytes`.
    fn read(
        &mut self,
        missing: &[u64],
        ahead: &[u64],
        ahead_bytes: usize,
    ) -> Result<Vec<(u64, Fetched)>, String> {
        let mut all: Vec<u64> = missing.iter().chain(ahead).copied().collect();
        all.sort_unstable();
        all.dedup();
        if all.is_empty() {
            return Ok(Vec::new());
        }
        let (first, last) = (all[0], all[all.len() - 1]);
        let dense = last - first < 4 * all.len() as u64 + 16;
        if !dense {
            let mut out: Vec<(u64, Fetched)> =
                missing.iter().map(|seq| (*seq, self.point(*seq))).collect();
            let mut bytes = 0;
            for seq in ahead {
                if bytes > ahead_bytes {
                    break;
                }
                let fetched = self.point(*seq);
                if let Fetched::Found(content) = &fetched {
                    bytes += content.weight();
                }
                out.push((*seq, fetched));
            }
            return Ok(out);
        }
        let last_missing = missing.iter().max().copied().unwrap_or(0);
        let mut out = Vec::with_capacity(all.len());
        let mut rows = Vec::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {} FROM message_contents WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
                    stored_content::COLUMNS
                ))
                .map_err(|e| format!("the store cannot read it: {e}"))?;
            let mut query = stmt
                .query([first as i64, last as i64])
                .map_err(|e| format!("the store cannot read it: {e}"))?;
            let mut bytes = 0;
            loop {
                match query.next() {
                    Ok(Some(r)) => {
                        let seq = r.get::<_, i64>(0).unwrap_or_default() as u64;
                        if all.binary_search(&seq).is_err() {
                            continue;
                        }
                        match Row::from_sql(r) {
                            Ok(row) => {
                                bytes += row.len();
                                rows.push(row);
                            }
                            Err(e) => out.push((
                                seq,
                                Fetched::Unreadable(format!("the store cannot read it: {e}")),
                            )),
                        }
                        if seq >= last_missing && bytes > ahead_bytes {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        // A damaged page: whatever was not read yet is read one by one.
                        tracing::warn!(error = %e, "a range read failed; reading its messages one by one");
                        let read: std::collections::HashSet<u64> = rows
                            .iter()
                            .map(|r| r.seq)
                            .chain(out.iter().map(|(s, _)| *s))
                            .collect();
                        let rest: Vec<u64> = missing
                            .iter()
                            .copied()
                            .filter(|s| !read.contains(s))
                            .collect();
                        drop(query);
                        drop(stmt);
                        out.extend(rows.into_iter().map(|row| (row.seq, self.decode(row))));
                        out.extend(rest.into_iter().map(|seq| (seq, self.point(seq))));
                        return Ok(out);
                    }
                }
            }
        }
        out.extend(rows.into_iter().map(|row| (row.seq, self.decode(row))));
        Ok(out)
    }
}
