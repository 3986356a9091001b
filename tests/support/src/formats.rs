//! Data directories as earlier storage formats wrote them, derived from one this build wrote
//! (for tests of the in-place upgrades). A directory written by the last build of format 5 is
//! kept whole in `local-emulator/tests/fixtures/format-5`.

use std::path::Path;

/// Rewrites a format-6 store as format 5 held it: one `messages` row per message (index and
/// content together), no key check values. Exact for messages without a dead-letter source
/// (format 5 kept that in the extras).
pub fn rewrite_as_format_5(db: &Path) {
    rusqlite::Connection::open(db)
        .expect("open the store")
        .execute_batch(
            "BEGIN;
             CREATE TABLE messages (seq INTEGER PRIMARY KEY, queue_id INTEGER NOT NULL,
                 message_id BLOB NOT NULL, body TEXT NOT NULL, extras TEXT, group_id TEXT,
                 sent_ms INTEGER NOT NULL, visible_at_ms INTEGER NOT NULL,
                 receive_count INTEGER NOT NULL, first_receive_ms INTEGER NOT NULL,
                 key_name TEXT, sealed BLOB);
             CREATE INDEX messages_by_queue ON messages (queue_id);
             INSERT INTO messages SELECT c.seq, c.queue_id, c.message_id, c.body, c.extras,
                 i.group_id, i.sent_ms, i.visible_at_ms, i.receive_count, i.first_receive_ms,
                 c.key_name, c.sealed
                 FROM message_contents c JOIN message_index i ON i.seq = c.seq;
             DROP TABLE message_contents;
             DROP TABLE message_index;
             DROP TABLE key_checks;
             UPDATE meta SET value = '5' WHERE key = 'format';
             COMMIT;",
        )
        .expect("rewrite as format 5");
}
