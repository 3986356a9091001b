//! A queue's messages in sequence order, compact enough for tens of millions: fixed-size
//! chunks of `(seq, entry)` kept sorted, removed entries left as tombstones and swept when a
//! chunk is mostly dead (so a removal is O(1) amortised and nothing is shifted per delete), and
//! lookups by binary search (chunks, then within one). Sequence order is send order, which is
//! what retention and browsing walk; appends (sends, recovery) fill chunks completely.

use std::collections::VecDeque;

/// Entries per chunk: large enough that the chunk index stays small, small enough that an
/// insert in the middle (a message moved in from another queue) or a sweep moves little.
const CHUNK: usize = 4096;

struct Chunk<T> {
    /// No entry of this chunk is numbered below it, and every entry of the next chunk is
    /// numbered at or above the next chunk's: kept in the chunk itself, so finding a chunk
    /// reads the chunk list alone, not each chunk's entries.
    first: u64,
    entries: Vec<(u64, Option<T>)>,
    live: usize,
    /// Every entry before this one is a tombstone (messages leave a queue mostly from its
    /// front, so the oldest message is found without walking them).
    skip: usize,
}

impl<T> Chunk<T> {
    fn new(first: u64) -> Self {
        Self {
            first,
            entries: Vec::with_capacity(CHUNK),
            live: 0,
            skip: 0,
        }
    }

    /// Live entries (from `skip` on).
    fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.entries[self.skip..]
            .iter()
            .filter_map(|(seq, v)| v.as_ref().map(|v| (*seq, v)))
    }

    fn position(&self, seq: u64) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&seq, |e| e.0)
    }

    /// Drops tombstones once they are at least half the chunk.
    fn sweep_if_sparse(&mut self) {
        if self.live * 2 <= self.entries.len() {
            self.entries.retain(|e| e.1.is_some());
            self.skip = 0;
        }
    }
}

/// Sorted by sequence number; see the module documentation.
pub struct MessageLog<T> {
    chunks: VecDeque<Chunk<T>>,
    len: usize,
}

impl<T> Default for MessageLog<T> {
    fn default() -> Self {
        Self {
            chunks: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> MessageLog<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk that holds (or would hold) `seq`.
    fn chunk_of(&self, seq: u64) -> Option<usize> {
        if self.chunks.is_empty() {
            return None;
        }
        let after = self.chunks.partition_point(|c| c.first <= seq);
        Some(after.saturating_sub(1))
    }

    pub fn get(&self, seq: u64) -> Option<&T> {
        let chunk = &self.chunks[self.chunk_of(seq)?];
        chunk.entries[chunk.position(seq).ok()?].1.as_ref()
    }

    pub fn get_mut(&mut self, seq: u64) -> Option<&mut T> {
        let index = self.chunk_of(seq)?;
        let chunk = &mut self.chunks[index];
        let at = chunk.position(seq).ok()?;
        chunk.entries[at].1.as_mut()
    }

    /// Adds `value` at `seq` (replacing a message of that number).
    pub fn insert(&mut self, seq: u64, value: T) {
        let appends = self
            .chunks
            .back()
            .is_none_or(|c| c.entries.last().is_none_or(|e| e.0 < seq));
        if appends {
            if self.chunks.back().is_none_or(|c| c.entries.len() >= CHUNK) {
                self.chunks.push_back(Chunk::new(seq));
            }
            let last = self.chunks.back_mut().expect("a chunk");
            last.entries.push((seq, Some(value)));
            last.live += 1;
            self.len += 1;
            return;
        }
        let index = self.chunk_of(seq).unwrap_or(0);
        let chunk = &mut self.chunks[index];
        chunk.first = chunk.first.min(seq);
        match chunk.position(seq) {
            Ok(at) => {
                if chunk.entries[at].1.replace(value).is_none() {
                    chunk.live += 1;
                    self.len += 1;
                }
                chunk.skip = chunk.skip.min(at);
            }
            Err(at) => {
                chunk.skip = chunk.skip.min(at);
                chunk.entries.insert(at, (seq, Some(value)));
                chunk.live += 1;
                self.len += 1;
                if chunk.entries.len() > CHUNK {
                    // Split: the second half becomes a chunk of its own.
                    let tail = chunk.entries.split_off(CHUNK / 2);
                    let tail_live = tail.iter().filter(|e| e.1.is_some()).count();
                    chunk.live -= tail_live;
                    chunk.skip = chunk.skip.min(chunk.entries.len());
                    self.chunks.insert(
                        index + 1,
                        Chunk {
                            first: tail[0].0,
                            entries: tail,
                            live: tail_live,
                            skip: 0,
                        },
                    );
                }
            }
        }
    }

    pub fn remove(&mut self, seq: u64) -> Option<T> {
        let index = self.chunk_of(seq)?;
        let chunk = &mut self.chunks[index];
        let at = chunk.position(seq).ok()?;
        let value = chunk.entries[at].1.take()?;
        chunk.live -= 1;
        self.len -= 1;
        if at == chunk.skip {
            while chunk.entries.get(chunk.skip).is_some_and(|e| e.1.is_none()) {
                chunk.skip += 1;
            }
        }
        if chunk.live == 0 {
            self.chunks.remove(index);
        } else {
            chunk.sweep_if_sparse();
        }
        Some(value)
    }

    /// The first (lowest-numbered) message.
    pub fn first(&self) -> Option<(u64, &T)> {
        self.iter().next()
    }

    /// Every message in sequence order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.chunks.iter().flat_map(Chunk::iter)
    }

    /// Messages numbered above `after`, in sequence order.
    pub fn iter_after(&self, after: u64) -> impl Iterator<Item = (u64, &T)> {
        let start = self.chunk_of(after).unwrap_or(0);
        let offset = self
            .chunks
            .get(start)
            .map_or(0, |c| c.entries.partition_point(|e| e.0 <= after));
        self.chunks
            .range(start..)
            .enumerate()
            .flat_map(move |(i, c)| {
                let from = if i == 0 { offset.max(c.skip) } else { c.skip };
                c.entries[from..].iter()
            })
            .filter_map(|(seq, v)| v.as_ref().map(|v| (*seq, v)))
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn appends_lookups_removals_and_order() {
        let mut log = MessageLog::default();
        for seq in (10..30_000).step_by(3) {
            log.insert(seq, seq * 2);
        }
        assert_eq!(log.len(), 9_997);
        assert_eq!(log.get(13), Some(&26));
        assert_eq!(log.get(14), None);
        assert_eq!(log.remove(13), Some(26));
        assert_eq!(log.remove(13), None);
        assert_eq!(log.first(), Some((10, &20)));
        // A message moved in with an older number lands in order, splitting a full chunk.
        log.insert(11, 0);
        let seqs: Vec<u64> = log.iter().map(|(s, _)| s).take(3).collect();
        assert_eq!(seqs, [10, 11, 16]);
        assert_eq!(log.iter_after(16).next().map(|(s, _)| s), Some(19));
        // Removing everything leaves nothing behind.
        let all: Vec<u64> = log.iter().map(|(s, _)| s).collect();
        for seq in all {
            assert!(log.remove(seq).is_some());
        }
        assert!(log.is_empty());
        assert_eq!(log.chunks.len(), 0);
    }

    proptest! {
        /// The log behaves as an ordered map under any mix of inserts and removals.
        #[test]
        fn behaves_as_an_ordered_map(ops in prop::collection::vec((any::<bool>(), 0u64..20_000), 1..3_000)) {
            let mut log = MessageLog::default();
            let mut model = std::collections::BTreeMap::new();
            for (insert, seq) in ops {
                if insert {
                    log.insert(seq, seq);
                    model.insert(seq, seq);
                } else {
                    prop_assert_eq!(log.remove(seq), model.remove(&seq));
                }
                prop_assert_eq!(log.len(), model.len());
                prop_assert_eq!(
                    log.first().map(|(s, v)| (s, *v)),
                    model.iter().next().map(|(s, v)| (*s, *v))
                );
            }
            let got: Vec<(u64, u64)> = log.iter().map(|(s, v)| (s, *v)).collect();
            let want: Vec<(u64, u64)> = model.iter().map(|(s, v)| (*s, *v)).collect();
            prop_assert_eq!(got, want);
            for seq in (0..20_000).step_by(97) {
                prop_assert_eq!(log.get(seq), model.get(&seq));
                let after: Vec<u64> = log.iter_after(seq).map(|(s, _)| s).take(5).collect();
                let want: Vec<u64> = model.range(seq + 1..).map(|(s, _)| *s).take(5).collect();
                prop_assert_eq!(after, want);
            }
        }
    }
}
