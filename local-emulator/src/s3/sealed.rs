//! An object's bytes on disk, encrypted (S3 encrypts every new object, SSE-S3 by default).
//!
//! A piece (a whole PUT, or one multipart part) is one file of 64 KiB segments, each sealed
//! with AES-256-GCM under a key derived (HKDF-SHA256) from a keyring master key and the
//! piece's own random salt; a segment's nonce is its index (unique under that key), and its
//! additional data is the index and whether it is the last, so segments cannot be reordered,
//! dropped or cut off the end. A byte range is read by opening only the segments it touches.

use std::io::{Read, Seek, SeekFrom};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use tokio::io::AsyncWriteExt;

/// Plaintext bytes per segment.
pub const SEGMENT: u64 = 64 * 1024;
const TAG: u64 = 16;
const SALT: &[u8] = b"lockgate s3 piece key v1";

/// The data key of one piece.
pub struct PieceKey(LessSafeKey);

impl PieceKey {
    pub fn derive(master: &[u8; 32], salt: &[u8; 32]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(master);
        let info = [&salt[..]];
        let okm = prk
            .expand(&info, &AES_256_GCM)
            .expect("a 32-byte key is a valid HKDF length");
        Self(LessSafeKey::new(UnboundKey::from(okm)))
    }
}

fn nonce(index: u64) -> Nonce {
    let mut bytes = [0u8; NONCE_LEN];
    bytes[NONCE_LEN - 8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

fn aad(index: u64, last: bool) -> Aad<[u8; 9]> {
    let mut bytes = [0u8; 9];
    bytes[..8].copy_from_slice(&index.to_be_bytes());
    bytes[8] = u8::from(last);
    Aad::from(bytes)
}

/// How many segments a piece of `size` bytes has (an empty piece has one, empty, segment).
pub fn segments(size: u64) -> u64 {
    size.div_ceil(SEGMENT).max(1)
}

/// Streams plaintext into a sealed piece file. A full segment is sealed only once more data
/// arrives, since the last segment is marked as such.
pub struct PieceWriter {
    file: tokio::fs::File,
    key: PieceKey,
    pending: Vec<u8>,
    index: u64,
    size: u64,
}

impl PieceWriter {
    pub fn new(file: tokio::fs::File, key: PieceKey) -> Self {
        Self {
            file,
            key,
            pending: Vec::with_capacity(SEGMENT as usize + TAG as usize),
            index: 0,
            size: 0,
        }
    }

    pub async fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        self.size += data.len() as u64;
        while !data.is_empty() {
            if self.pending.len() == SEGMENT as usize {
                self.seal(false).await?;
            }
            let room = SEGMENT as usize - self.pending.len();
            let (now, rest) = data.split_at(room.min(data.len()));
            self.pending.extend_from_slice(now);
            data = rest;
        }
        Ok(())
    }

    async fn seal(&mut self, last: bool) -> std::io::Result<()> {
        self.key
            .0
            .seal_in_place_append_tag(nonce(self.index), aad(self.index, last), &mut self.pending)
            .map_err(|_| std::io::Error::other("sealing a segment failed"))?;
        self.file.write_all(&self.pending).await?;
        self.pending.clear();
        self.index += 1;
        Ok(())
    }

    /// Seals the last segment and makes the file durable; returns the plaintext size.
    pub async fn finish(mut self) -> std::io::Result<u64> {
        self.seal(true).await?;
        self.file.flush().await?;
        self.file.sync_all().await?;
        Ok(self.size)
    }
}

/// Reads plaintext `[start, end)` of a sealed piece of `size` bytes, segment by segment,
/// handing each decrypted slice to `out`. Blocking: run it on a blocking thread.
pub fn read_range(
    file: &mut std::fs::File,
    key: &PieceKey,
    size: u64,
    start: u64,
    end: u64,
    out: &mut dyn FnMut(Vec<u8>) -> bool,
) -> std::io::Result<()> {
    let last_index = segments(size) - 1;
    let mut index = start / SEGMENT;
    let mut buf = Vec::with_capacity((SEGMENT + TAG) as usize);
    while index * SEGMENT < end || (size == 0 && index == 0 && start == 0 && end == 0) {
        let plain_len = if index == last_index {
            size - index * SEGMENT
        } else {
            SEGMENT
        };
        buf.resize((plain_len + TAG) as usize, 0);
        file.seek(SeekFrom::Start(index * (SEGMENT + TAG)))?;
        file.read_exact(&mut buf).map_err(|e| {
            std::io::Error::other(format!("segment {index} is missing or truncated: {e}"))
        })?;
        let plain = key
            .0
            .open_in_place(nonce(index), aad(index, index == last_index), &mut buf)
            .map_err(|_| {
                std::io::Error::other(format!(
                    "segment {index} does not decrypt: the file is damaged or its key is wrong"
                ))
            })?;
        let from = start.saturating_sub(index * SEGMENT) as usize;
        let to = (end - index * SEGMENT).min(plain_len) as usize;
        if from < to && !out(plain[from..to].to_vec()) {
            return Ok(()); // the reader is gone
        }
        if size == 0 {
            break;
        }
        index += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn piece(
        dir: &std::path::Path,
        data: &[u8],
        chunks: usize,
    ) -> (std::path::PathBuf, PieceKey) {
        let path = dir.join("piece");
        let key = || PieceKey::derive(&[7; 32], &[9; 32]);
        let mut writer = PieceWriter::new(tokio::fs::File::create(&path).await.unwrap(), key());
        for chunk in data.chunks(chunks.max(1)) {
            writer.write(chunk).await.unwrap();
        }
        assert_eq!(writer.finish().await.unwrap(), data.len() as u64);
        (path, key())
    }

    fn read(
        path: &std::path::Path,
        key: &PieceKey,
        size: u64,
        start: u64,
        end: u64,
    ) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        read_range(
            &mut std::fs::File::open(path).unwrap(),
            key,
            size,
            start,
            end,
            &mut |chunk| {
                out.extend(chunk);
                true
            },
        )?;
        Ok(out)
    }

    #[tokio::test]
    async fn every_range_of_a_piece_reads_back_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..(SEGMENT * 2 + 100)).map(|i| (i % 251) as u8).collect();
        let (path, key) = piece(dir.path(), &data, 10_000).await;
        let size = data.len() as u64;
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            size + 3 * TAG,
            "three segments, each with its tag"
        );
        assert!(
            !std::fs::read(&path)
                .unwrap()
                .windows(64)
                .any(|w| data.windows(64).next() == Some(w))
        );
        for (start, end) in [
            (0, size),
            (5, 6),
            (SEGMENT - 1, SEGMENT + 1),
            (SEGMENT * 2, size),
            (100, SEGMENT * 2 + 50),
        ] {
            assert_eq!(
                read(&path, &key, size, start, end).unwrap(),
                &data[start as usize..end as usize]
            );
        }
        // Cut off the last segment: the previous one is not marked last, so it cannot pass.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len((SEGMENT + TAG) * 2).unwrap();
        assert!(read(&path, &key, SEGMENT * 2, 0, SEGMENT * 2).is_err());
        assert!(read(&path, &key, size, 0, size).is_err());
    }

    #[tokio::test]
    async fn an_empty_piece_and_an_exact_segment() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = piece(dir.path(), b"", 1).await;
        assert_eq!(read(&path, &key, 0, 0, 0).unwrap(), b"");
        let data = vec![3u8; SEGMENT as usize];
        let (path, key) = piece(dir.path(), &data, 4096).await;
        assert_eq!(read(&path, &key, SEGMENT, 0, SEGMENT).unwrap(), data);
    }
}
