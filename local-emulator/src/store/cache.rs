//! A bounded cache of message contents by sequence number, in front of the store's readers:
//! what was just sent (often received moments later) and what a read-ahead brought in before
//! it is delivered. Bounded in bytes (`--cache-size`). A read-ahead makes room by dropping the
//! oldest entries; a send is kept only while there is room, so a backlog larger than the cache
//! keeps its head (delivered first) instead of its tail (delivered last, by which time a
//! read-ahead brings it in anyway). Sharded, so concurrent sends and receives rarely wait on
//! each other.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::queue::message::Content;

const SHARDS: usize = 8;

pub struct ContentCache {
    shards: Vec<Mutex<Shard>>,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<u64, Arc<Content>>,
    /// Insertion order; may name entries already forgotten (skipped when evicting).
    order: VecDeque<u64>,
    bytes: usize,
    budget: usize,
}

impl ContentCache {
    /// A cache of at most `budget` bytes of contents (0 keeps nothing).
    pub fn new(budget: usize) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        budget: budget / SHARDS,
                        ..Shard::default()
                    })
                })
                .collect(),
        }
    }

    fn shard(&self, seq: u64) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[(seq % SHARDS as u64) as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, seq: u64) -> Option<Arc<Content>> {
        self.shard(seq).entries.get(&seq).cloned()
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.shard(seq).entries.contains_key(&seq)
    }

    /// Keeps a content about to be delivered, dropping the oldest entries to make room.
    pub fn insert(&self, seq: u64, content: Arc<Content>) {
        self.put(seq, content, Room::MakeIt);
    }

    /// Keeps a content only if it fits without dropping another.
    pub fn insert_if_room(&self, seq: u64, content: Arc<Content>) {
        self.put(seq, content, Room::IfFree);
    }

    fn put(&self, seq: u64, content: Arc<Content>, room: Room) {
        let weight = content.weight();
        let mut shard = self.shard(seq);
        let limit = match room {
            Room::MakeIt => shard.budget,
            Room::IfFree => shard.budget.saturating_sub(shard.bytes),
        };
        if weight > limit {
            return;
        }
        if let Some(old) = shard.entries.insert(seq, content) {
            shard.bytes -= old.weight();
        } else {
            shard.order.push_back(seq);
        }
        shard.bytes += weight;
        while shard.bytes > shard.budget {
            let Some(oldest) = shard.order.pop_front() else {
                break;
            };
            if let Some(evicted) = shard.entries.remove(&oldest) {
                shard.bytes -= evicted.weight();
            }
        }
        shard.compact();
    }

    pub fn remove(&self, seq: u64) {
        let mut shard = self.shard(seq);
        if let Some(old) = shard.entries.remove(&seq) {
            shard.bytes -= old.weight();
        }
        shard.compact();
    }

    /// Bytes held (for `/metrics`).
    pub fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).bytes)
            .sum()
    }
}

enum Room {
    MakeIt,
    IfFree,
}

impl Shard {
    /// Drops the order's names of forgotten entries once they outnumber the live ones, so
    /// the order stays within twice the entries.
    fn compact(&mut self) {
        if self.order.len() > 64 && self.order.len() > 2 * self.entries.len() {
            let entries = &self.entries;
            self.order.retain(|seq| entries.contains_key(seq));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(len: usize) -> Arc<Content> {
        Arc::new(Content {
            id: 1,
            body: "x".repeat(len).into_boxed_str(),
            md5_of_body: [0; 16],
            extras: None,
        })
    }

    #[test]
    fn stays_within_its_budget_dropping_the_oldest_first() {
        let one = content(1000).weight();
        let cache = ContentCache::new(SHARDS * one * 4);
        for seq in 0..(SHARDS as u64 * 10) {
            cache.insert(seq, content(1000));
        }
        assert!(cache.bytes() <= SHARDS * one * 4);
        // Each shard kept its newest four.
        for seq in 0..(SHARDS as u64 * 6) {
            assert!(!cache.contains(seq), "{seq} should have been evicted");
        }
        for seq in (SHARDS as u64 * 6)..(SHARDS as u64 * 10) {
            assert!(cache.contains(seq), "{seq} should be kept");
        }
    }

    #[test]
    fn a_full_cache_keeps_what_it_holds_for_sends_and_makes_room_for_read_ahead() {
        let one = content(1000).weight();
        let cache = ContentCache::new(SHARDS * one * 4);
        for seq in 0..(SHARDS as u64 * 10) {
            cache.insert_if_room(seq, content(1000));
        }
        // Each shard kept its first four: the head of the backlog.
        for seq in 0..(SHARDS as u64 * 4) {
            assert!(cache.contains(seq), "{seq} should be kept");
        }
        for seq in (SHARDS as u64 * 4)..(SHARDS as u64 * 10) {
            assert!(!cache.contains(seq), "{seq} should not have been admitted");
        }
        // A read-ahead still gets in, in place of the oldest.
        let next = SHARDS as u64 * 10;
        cache.insert(next, content(1000));
        assert!(cache.contains(next));
        assert!(!cache.contains(next % SHARDS as u64));
        assert!(cache.bytes() <= SHARDS * one * 4);
    }

    #[test]
    fn forgotten_entries_free_their_bytes_and_their_place_in_line() {
        let cache = ContentCache::new(1 << 20);
        for seq in 0..10_000 {
            cache.insert(seq, content(10));
            cache.remove(seq);
        }
        assert_eq!(cache.bytes(), 0);
        for shard in &cache.shards {
            assert!(shard.lock().unwrap().order.len() <= 65);
        }
        // Larger than a shard's budget: not kept at all.
        let small = ContentCache::new(SHARDS * 100);
        small.insert(3, content(1000));
        assert!(small.get(3).is_none());
    }
}
