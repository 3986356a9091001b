//! The tables of the durable store, and the steps that upgrade a data directory written by
//! an earlier build in place. See docs/storage.md for the layout and its crash rules.

use rusqlite::{Connection, OptionalExtension, params};

use super::records::{self, FORMAT_VERSION};
use super::sealing::Sealer;
use super::stored_content;

/// Format 6: a message is two rows. `message_index` holds what the engine needs to deliver
/// it (read whole at start-up, small; keyed by queue then sequence number, so a queue's
/// messages are one range and no second index is kept); `message_contents` what it says
/// (read when it is delivered or browsed; sealed for an encrypting queue). `key_checks` holds a check value
/// per encryption key the messages use, so a start verifies the keyring without reading a
/// message.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queues (
    id INTEGER PRIMARY KEY,
    region TEXT,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_s INTEGER NOT NULL,
    modified_s INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS message_index (
    queue_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    salt INTEGER NOT NULL,
    group_id TEXT,
    sent_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    first_receive_ms INTEGER NOT NULL,
    dead_letter_source TEXT,
    PRIMARY KEY (queue_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS message_contents (
    seq INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL,
    message_id BLOB NOT NULL,
    body TEXT NOT NULL,
    extras TEXT,
    key_name TEXT,
    sealed BLOB,
    md5 BLOB
);
CREATE TABLE IF NOT EXISTS key_checks (key_name TEXT PRIMARY KEY, check_value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS dedup (
    queue_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    message_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (queue_id, key)
) WITHOUT ROWID;
";

/// Creates the tables of a new store, or upgrades one of an earlier format in place (in one
/// transaction: a crash during an upgrade leaves the directory as it was).
pub fn prepare(conn: &mut Connection, sealer: &mut Sealer) -> Result<(), String> {
    let has_meta: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    let version: Option<String> = if has_meta {
        conn.query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| e.to_string())?
    } else {
        None
    };
    let cannot =
        |e: String| format!("cannot upgrade the data directory to format {FORMAT_VERSION}: {e}");
    match version.as_deref() {
        None => {
            conn.execute_batch(TABLES).map_err(|e| e.to_string())?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('format', ?1)",
                [FORMAT_VERSION],
            )
            .map(drop)
            .map_err(|e| e.to_string())
        }
        Some(FORMAT_VERSION) => conn.execute_batch(TABLES).map_err(|e| e.to_string()),
        Some(old @ ("1" | "2" | "3" | "4" | "5")) => {
            let tx = conn.transaction().map_err(|e| cannot(e.to_string()))?;
            to_format_5(&tx, old).map_err(|e| cannot(e.to_string()))?;
            tx.execute_batch(TABLES)
                .map_err(|e| cannot(e.to_string()))?;
            to_format_6(&tx, sealer).map_err(cannot)?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'format'",
                [FORMAT_VERSION],
            )
            .map_err(|e| cannot(e.to_string()))?;
            tx.commit().map_err(|e| cannot(e.to_string()))?;
            tracing::info!(
                from = old,
                to = FORMAT_VERSION,
                "upgraded the data directory's storage format"
            );
            Ok(())
        }
        Some(other) => Err(format!(
            "data directory has storage format {other}; this build reads format {FORMAT_VERSION}"
        )),
    }
}

/// Format 2 added queues' regions; format 3 a message's sender (in its extras, absent from
/// older messages: they read as sent by the queue's own account); format 4 encrypted messages
/// (older ones are all in plain: the columns stay empty); format 5 a queue's deduplication
/// scope at creation (in its attributes; a queue stored without it deduplicates by its current
/// DeduplicationScope). None of these rewrote a row.
fn to_format_5(tx: &rusqlite::Transaction<'_>, old: &str) -> rusqlite::Result<()> {
    if old == "1" {
        tx.execute_batch("ALTER TABLE queues ADD COLUMN region TEXT;")?;
    }
    if matches!(old, "1" | "2" | "3") {
        tx.execute_batch(
            "ALTER TABLE messages ADD COLUMN key_name TEXT;
             ALTER TABLE messages ADD COLUMN sealed BLOB;",
        )?;
    }
    Ok(())
}

/// Format 6 splits each row of `messages` into its index row and its content row. The
/// dead-letter source, which format 5 kept in a message's extras (sealed with its body on an
/// encrypting queue), moves to the index, so every sealed message is opened once here; the
/// keys they use get their check values.
fn to_format_6(tx: &rusqlite::Transaction<'_>, sealer: &mut Sealer) -> Result<(), String> {
    let sql = |e: rusqlite::Error| e.to_string();
    tx.execute_batch(
        "INSERT INTO message_contents (seq, queue_id, message_id, body, extras, key_name, sealed)
             SELECT seq, queue_id, message_id, body, extras, key_name, sealed FROM messages;",
    )
    .map_err(sql)?;
    let mut read = tx
        .prepare(
            "SELECT seq, queue_id, message_id, body, extras, key_name, sealed, group_id, sent_ms,
                    visible_at_ms, receive_count, first_receive_ms
             FROM messages ORDER BY seq",
        )
        .map_err(sql)?;
    let mut write = tx
        .prepare(
            "INSERT INTO message_index (seq, queue_id, salt, group_id, sent_ms, visible_at_ms,
                 receive_count, first_receive_ms, dead_letter_source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(sql)?;
    let mut keys = std::collections::BTreeSet::new();
    let mut rows = read.query([]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let row = stored_content::Row {
            seq: r.get::<_, i64>(0).map_err(sql)? as u64,
            queue_id: r.get::<_, i64>(1).map_err(sql)? as u64,
            message_id: stored_content::id_of(&r.get::<_, Vec<u8>>(2).map_err(sql)?),
            body: r.get(3).map_err(sql)?,
            extras: r.get(4).map_err(sql)?,
            key_name: r.get(5).map_err(sql)?,
            sealed: r.get(6).map_err(sql)?,
            md5: None,
        };
        if let (Some(key), Some(_)) = (&row.key_name, &row.sealed) {
            keys.insert(key.clone());
        }
        let (seq, queue_id, id) = (row.seq, row.queue_id, row.id());
        let source = row
            .open(sealer)
            .and_then(|plain| {
                plain
                    .extras
                    .map(|text| records::dead_letter_source_of_v5(&text))
                    .transpose()
            })
            .map_err(|e| format!("message {id:032x} (seq {seq}): {e}"))?
            .flatten();
        write
            .execute(params![
                seq as i64,
                queue_id as i64,
                crate::queue::receipt::salt_of(id),
                r.get::<_, Option<String>>(7).map_err(sql)?,
                r.get::<_, i64>(8).map_err(sql)?,
                r.get::<_, i64>(9).map_err(sql)?,
                r.get::<_, i64>(10).map_err(sql)?,
                r.get::<_, i64>(11).map_err(sql)?,
                source
            ])
            .map_err(sql)?;
    }
    drop(rows);
    for key in keys {
        let check = sealer.key_check(&key, false)?;
        tx.execute(
            "INSERT OR REPLACE INTO key_checks (key_name, check_value) VALUES (?1, ?2)",
            params![key, check],
        )
        .map_err(sql)?;
    }
    tx.execute_batch("DROP INDEX IF EXISTS messages_by_queue; DROP TABLE messages;")
        .map_err(sql)
}
