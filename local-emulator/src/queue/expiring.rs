//! Entries that live for a window (FIFO deduplication ids, receive attempt ids): found by key,
//! expired in the order their windows end, so expiring never searches.

use std::collections::{HashMap, VecDeque};

pub(super) struct ExpiringKeys<V> {
    entries: HashMap<String, (u64, V)>,
    /// Keys in expiry order. A key queued again when its entry is replaced leaves its earlier
    /// place stale: [`ExpiringKeys::expire`] drops an entry only at its own expiry.
    order: VecDeque<(u64, String)>,
}

impl<V> Default for ExpiringKeys<V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V> ExpiringKeys<V> {
    /// Keeps `value` under `key` until `expires_ms`, replacing what the key held.
    pub fn insert(&mut self, key: String, expires_ms: u64, value: V) {
        self.order.push_back((expires_ms, key.clone()));
        self.entries.insert(key, (expires_ms, value));
    }

    /// The entry under `key`, expired or not (expiry runs on the queue's tick).
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(|(_, value)| value)
    }

    /// The entry under `key` if its window is still open at `now_ms`.
    pub fn live(&self, key: &str, now_ms: u64) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(expires_ms, _)| *expires_ms > now_ms)
            .map(|(_, value)| value)
    }

    /// Drops every entry whose window ended at or before `now_ms`.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some((expires_ms, _)) = self.order.front() {
            if *expires_ms > now_ms {
                break;
            }
            let (expires_ms, key) = self.order.pop_front().expect("peeked");
            if self.entries.get(&key).is_some_and(|(at, _)| *at == expires_ms) {
                self.entries.remove(&key);
            }
        }
    }

    /// Puts the expiry order right after entries were inserted in any order (read back at
    /// start).
    pub fn sort_by_expiry(&mut self) {
        self.order.make_contiguous().sort();
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::ExpiringKeys;

    #[test]
    fn an_entry_lives_until_its_window_ends_and_a_replacement_keeps_its_own() {
        let mut keys = ExpiringKeys::default();
        keys.insert("a".into(), 10, 1);
        keys.insert("b".into(), 20, 2);
        assert_eq!(keys.live("a", 9), Some(&1));
        assert_eq!(keys.live("a", 10), None);
        keys.insert("a".into(), 30, 3); // replaced: the first window's end must not drop it
        keys.expire(20);
        assert_eq!(keys.get("a"), Some(&3));
        assert_eq!(keys.get("b"), None);
        keys.expire(30);
        assert_eq!(keys.get("a"), None);
    }

    #[test]
    fn entries_restored_out_of_order_expire_in_order_once_sorted() {
        let mut keys = ExpiringKeys::default();
        keys.insert("late".into(), 50, ());
        keys.insert("early".into(), 5, ());
        keys.sort_by_expiry();
        keys.expire(10);
        assert!(keys.get("early").is_none());
        assert!(keys.get("late").is_some());
    }
}
