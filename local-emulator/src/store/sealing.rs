//! Encryption at rest (SSE). A queue with `SqsManagedSseEnabled=true` (SQS's default) or a
//! `KmsMasterKeyId` has its messages' bodies and attributes sealed with AES-256-GCM before
//! they reach the disk; the store keeps only the ciphertext.
//!
//! - **Keys** live in a [`Keyring`] file (`<data dir>/keyring`, mode 0600, or `--key-file`):
//!   one 256-bit master key per key name, made on first use. `sqs-managed` serves
//!   SQS-managed SSE; `kms:<id>` each `KmsMasterKeyId` as the queue names it
//!   (`alias/aws/sqs`, a key id, an ARN).
//! - **Data keys** are derived from a master key with HKDF-SHA256 per period of
//!   `KmsDataKeyReusePeriodSeconds` (as SQS reuses a KMS data key for that long): the period
//!   number is stored with each message, so any message can be opened later.
//! - **Each message** is sealed with a random 96-bit nonce; the additional data binds the
//!   ciphertext to its queue, sequence number, message id and key name, so rows cannot be
//!   swapped or moved between queues on disk without failing to open.
//!
//! Sealing runs in the store's writer thread, off the request path. See docs/storage.md.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::queue::attributes::QueueAttributes;

/// The key name of SQS-managed SSE.
pub const SQS_MANAGED: &str = "sqs-managed";
/// The first byte of every sealed blob: the layout of what it seals. Version 1 (format 5)
/// sealed the body and extras; version 2 puts the body's MD5 first, so a read need not
/// compute it. Both open.
const BLOB_VERSION: u8 = 2;
const BLOB_VERSION_1: u8 = 1;
/// version (1) + data-key period (8) + nonce (12); the AES-GCM tag (16) follows the text.
const HEADER_LEN: usize = 1 + 8 + NONCE_LEN;
const TAG_LEN: usize = 16;
/// HKDF salt: fixed, so the same master key and period always give the same data key.
const DATA_KEY_SALT: &[u8] = b"lockgate sse data key v1";
/// What a key's check value is the HMAC of (see [`Sealer::key_check`]).
const KEY_CHECK_INPUT: &[u8] = b"lockgate key check v1";

/// How a queue's new messages are sealed, from its attributes; `None` stores them in plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealPolicy {
    pub key: String,
    /// `KmsDataKeyReusePeriodSeconds`: how long one data key serves.
    pub period_s: u64,
}

pub fn policy(attrs: &QueueAttributes) -> Option<SealPolicy> {
    let key = match (&attrs.kms_master_key_id, attrs.sqs_managed_sse_enabled) {
        (Some(id), _) => format!("kms:{id}"),
        (None, true) => SQS_MANAGED.to_string(),
        (None, false) => return None,
    };
    Some(SealPolicy {
        key,
        period_s: u64::from(attrs.kms_data_key_reuse_period_seconds).max(1),
    })
}

/// The keyring file's contents.
#[derive(Serialize, Deserialize, Default)]
struct KeyringFile {
    format: u32,
    /// Key name → 32 bytes, base64.
    keys: BTreeMap<String, String>,
}

/// The master keys, as read from (and written to) the keyring file.
pub struct Keyring {
    path: PathBuf,
    keys: HashMap<String, [u8; 32]>,
}

impl Keyring {
    /// Reads the keyring at `path`; a missing file is an empty keyring (made on first use).
    pub fn open(path: &Path) -> Result<Self, String> {
        let mut keyring = Self {
            path: path.to_path_buf(),
            keys: HashMap::new(),
        };
        keyring.reload()?;
        Ok(keyring)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file again (another process, or the store's writer, may have added keys).
    pub fn reload(&mut self) -> Result<(), String> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "cannot read the keyring {}: {e}",
                    self.path.display()
                ));
            }
        };
        if let Ok(meta) = std::fs::metadata(&self.path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "the keyring {} can be read by other users (mode {:o}): chmod 600 it",
                self.path.display(),
                meta.permissions().mode() & 0o777
            );
        }
        let unreadable = |why: String| {
            format!(
                "the keyring {} is unreadable ({why}); without it the encrypted messages cannot be read: restore it, or point --key-file at the right one",
                self.path.display()
            )
        };
        let file: KeyringFile =
            serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
        if file.format != 1 {
            return Err(unreadable(format!("keyring format {}", file.format)));
        }
        for (name, encoded) in file.keys {
            let key = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .ok_or_else(|| unreadable(format!("key {name} is not 32 bytes of base64")))?;
            self.keys.insert(name, key);
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&[u8; 32]> {
        self.keys.get(name)
    }

    /// The key `name`, made and written to the file first if the keyring has none. Another
    /// process may share a `--key-file`: the file is locked, read again and replaced whole.
    pub fn get_or_create(&mut self, name: &str) -> Result<[u8; 32], String> {
        if let Some(key) = self.keys.get(name) {
            return Ok(*key);
        }
        let path = self.path.clone();
        let cannot =
            |e: std::io::Error| format!("cannot write the keyring {}: {e}", path.display());
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(cannot)?;
        }
        let lock_path = self.path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(cannot)?;
        lock.lock().map_err(cannot)?;
        self.reload()?;
        if !self.keys.contains_key(name) {
            let mut key = [0u8; 32];
            aws_lc_rs::rand::fill(&mut key).map_err(|_| "no random source for a new key")?;
            self.keys.insert(name.to_string(), key);
            self.write().map_err(cannot)?;
            tracing::info!(key = name, keyring = %self.path.display(), "made a new encryption key");
        }
        drop(lock);
        Ok(self.keys[name])
    }

    /// Replaces the file: a new file (0600) written and synced, renamed over the old one, the
    /// directory synced, so a crash leaves the old keyring or the new one, never half of one.
    fn write(&self) -> std::io::Result<()> {
        let file = KeyringFile {
            format: 1,
            keys: self
                .keys
                .iter()
                .map(|(name, key)| {
                    (
                        name.clone(),
                        base64::engine::general_purpose::STANDARD.encode(key),
                    )
                })
                .collect(),
        };
        let text = serde_json::to_vec_pretty(&file).expect("a keyring serializes");
        let temp = self.path.with_extension("new");
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        out.write_all(&text)?;
        out.sync_all()?;
        std::fs::rename(&temp, &self.path)?;
        if let Some(parent) = self.path.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    }
}

/// What binds a sealed message to its place.
pub struct Binding<'a> {
    pub queue_id: u64,
    pub seq: u64,
    pub message_id: u128,
    pub key: &'a str,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(32 + self.key.len());
        aad.extend_from_slice(&self.queue_id.to_be_bytes());
        aad.extend_from_slice(&self.seq.to_be_bytes());
        aad.extend_from_slice(&self.message_id.to_be_bytes());
        aad.extend_from_slice(self.key.as_bytes());
        aad
    }
}

/// Seals and opens messages; keeps each (key, period)'s data key once derived.
pub struct Sealer {
    keyring: Keyring,
    /// Key name → period → data key.
    data_keys: HashMap<String, HashMap<u64, LessSafeKey>>,
}

impl Sealer {
    pub fn new(keyring: Keyring) -> Self {
        Self {
            keyring,
            data_keys: HashMap::new(),
        }
    }

    fn data_key(&mut self, name: &str, period: u64, create: bool) -> Result<&LessSafeKey, String> {
        let known = self
            .data_keys
            .get(name)
            .is_some_and(|periods| periods.contains_key(&period));
        if !known {
            let master = if create {
                self.keyring.get_or_create(name)?
            } else {
                *self.keyring.get(name).ok_or_else(|| self.lacks(name))?
            };
            let info = period.to_be_bytes();
            let info = [&info[..]];
            let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, DATA_KEY_SALT).extract(&master);
            let okm = prk
                .expand(&info, &AES_256_GCM)
                .map_err(|_| "cannot derive a data key")?;
            self.data_keys
                .entry(name.to_string())
                .or_default()
                .insert(period, LessSafeKey::new(UnboundKey::from(okm)));
        }
        Ok(&self.data_keys[name][&period])
    }

    /// Seals a message's body, its MD5 and its extras JSON (read back by
    /// [`Sealer::open_message`]) under `policy`'s key for the period holding `at_ms`, in one
    /// buffer.
    pub fn seal(
        &mut self,
        policy: &SealPolicy,
        at_ms: u64,
        binding: &Binding<'_>,
        plain: PlainRef<'_>,
    ) -> Result<Vec<u8>, String> {
        let period = at_ms / 1000 / policy.period_s;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| "no random source for a nonce")?;
        let (body, extras) = (plain.body, plain.extras.unwrap_or(""));
        let mut blob =
            Vec::with_capacity(HEADER_LEN + 16 + 4 + body.len() + extras.len() + TAG_LEN);
        blob.push(BLOB_VERSION);
        blob.extend_from_slice(&period.to_be_bytes());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(plain.md5_of_body);
        blob.extend_from_slice(&(body.len() as u32).to_be_bytes());
        blob.extend_from_slice(body.as_bytes());
        blob.extend_from_slice(extras.as_bytes());
        let tag = self
            .data_key(&policy.key, period, true)?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding.aad()),
                &mut blob[HEADER_LEN..],
            )
            .map_err(|_| "sealing failed")?;
        blob.extend_from_slice(tag.as_ref());
        Ok(blob)
    }

    /// Key `name`'s check value: an HMAC-SHA256 of a fixed text under the master key. The store
    /// keeps one per key its messages use, so a start can tell a missing or different key
    /// without opening a message.
    pub fn key_check(&mut self, name: &str, create: bool) -> Result<Vec<u8>, String> {
        let master = if create {
            self.keyring.get_or_create(name)?
        } else {
            *self.keyring.get(name).ok_or_else(|| self.lacks(name))?
        };
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &master);
        Ok(aws_lc_rs::hmac::sign(&key, KEY_CHECK_INPUT)
            .as_ref()
            .to_vec())
    }

    /// Checks that the keyring holds key `name` as it was when `check` was made.
    pub fn verify(&mut self, name: &str, check: &[u8]) -> Result<(), String> {
        if self.keyring.get(name).is_none() {
            self.keyring.reload()?;
        }
        if self.keyring.get(name).is_none() {
            return Err(format!(
                "messages stored here are encrypted with key {name}, which the keyring {} does not hold (was the emulator started with another --key-file?)",
                self.keyring.path().display()
            ));
        }
        if self.key_check(name, false)? == check {
            return Ok(());
        }
        Err(format!(
            "messages stored here cannot be decrypted with key {name} from {}: it is not the key they were encrypted with (was the emulator started with another --key-file?)",
            self.keyring.path().display()
        ))
    }

    fn lacks(&self, name: &str) -> String {
        format!(
            "it is encrypted with key {name}, which the keyring {} does not hold (was the emulator started with another --key-file?)",
            self.keyring.path().display()
        )
    }

    /// Reads the keyring file again, for keys made since it was opened.
    pub fn reload_keys(&mut self) -> Result<(), String> {
        self.keyring.reload()
    }

    /// Opens a message [`Sealer::seal`] sealed (or format 5's version-1 blob).
    pub fn open_message(&mut self, binding: &Binding<'_>, blob: &[u8]) -> Result<Plain, String> {
        let version = blob.first().copied();
        let plain = self.open(binding, blob)?;
        match version {
            Some(BLOB_VERSION_1) => split(None, plain),
            _ => {
                let md5: [u8; 16] = plain
                    .get(..16)
                    .and_then(|m| m.try_into().ok())
                    .ok_or("its decrypted form is malformed")?;
                split(Some(md5), plain[16..].to_vec())
            }
        }
    }

    /// Opens a blob [`Sealer::seal`] made; the error says why it cannot be.
    fn open(&mut self, binding: &Binding<'_>, blob: &[u8]) -> Result<Vec<u8>, String> {
        if blob.len() < HEADER_LEN + TAG_LEN || !matches!(blob[0], BLOB_VERSION | BLOB_VERSION_1) {
            return Err("its encrypted form is truncated or of an unknown layout".into());
        }
        let period = u64::from_be_bytes(blob[1..9].try_into().expect("8 bytes"));
        let nonce: [u8; NONCE_LEN] = blob[9..HEADER_LEN].try_into().expect("12 bytes");
        let mut text = blob[HEADER_LEN..].to_vec();
        let path = self.keyring.path().display().to_string();
        let key = self.data_key(binding.key, period, false)?;
        let len = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding.aad()),
                &mut text,
            )
            .map_err(|_| {
                format!(
                    "it cannot be decrypted with key {} from {path}: the key is not the one it was encrypted with, or the row is damaged",
                    binding.key
                )
            })?
            .len();
        text.truncate(len);
        Ok(text)
    }
}

/// What a message's content is sealed from: the body, its MD5 (computed when the message was
/// sent) and the extras JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    pub md5_of_body: [u8; 16],
    pub body: String,
    pub extras: Option<String>,
}

/// [`Plain`], borrowed (what [`Sealer::seal`] reads).
#[derive(Clone, Copy)]
pub struct PlainRef<'a> {
    pub md5_of_body: &'a [u8; 16],
    pub body: &'a str,
    pub extras: Option<&'a str>,
}

impl Plain {
    pub fn as_ref(&self) -> PlainRef<'_> {
        PlainRef {
            md5_of_body: &self.md5_of_body,
            body: &self.body,
            extras: self.extras.as_deref(),
        }
    }
}

/// The body and extras JSON (if any) of an opened message's plaintext: body length (u32,
/// big-endian), body, extras JSON; `md5` from the blob, else computed (version 1).
fn split(md5: Option<[u8; 16]>, plain: Vec<u8>) -> Result<Plain, String> {
    let bad = || "its decrypted form is malformed".to_string();
    let len = u32::from_be_bytes(plain.get(..4).ok_or_else(bad)?.try_into().expect("4")) as usize;
    let body = plain.get(4..4 + len).ok_or_else(bad)?;
    let extras = &plain[4 + len..];
    let body = String::from_utf8(body.to_vec()).map_err(|_| bad())?;
    let extras = (!extras.is_empty())
        .then(|| String::from_utf8(extras.to_vec()).map_err(|_| bad()))
        .transpose()?;
    Ok(Plain {
        md5_of_body: md5.unwrap_or_else(|| crate::queue::message::md5_of_body(&body)),
        body,
        extras,
    })
}

/// The default keyring of a data directory.
pub fn default_keyring(dir: &Path) -> PathBuf {
    dir.join("keyring")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(key: &str) -> Binding<'_> {
        Binding {
            queue_id: 1,
            seq: 7,
            message_id: 99,
            key,
        }
    }

    fn plain(body: &str, extras: Option<&str>) -> Plain {
        Plain {
            md5_of_body: crate::queue::message::md5_of_body(body),
            body: body.into(),
            extras: extras.map(str::to_string),
        }
    }

    /// Format 5's layout: no MD5 in the blob; it opens, with the MD5 computed.
    #[test]
    fn a_version_1_blob_opens() {
        let dir = tempfile::tempdir().unwrap();
        let mut sealer = Sealer::new(Keyring::open(&dir.path().join("keyring")).unwrap());
        let message = plain("old body", Some("{}"));
        let mut blob = sealer
            .seal(
                &policy(SQS_MANAGED, 300),
                0,
                &binding(SQS_MANAGED),
                message.as_ref(),
            )
            .unwrap();
        // Re-seal the version-1 plaintext (without the MD5) in place of the version-2 one.
        let mut text = sealer.open(&binding(SQS_MANAGED), &blob).unwrap();
        text.drain(..16);
        let period = u64::from_be_bytes(blob[1..9].try_into().unwrap());
        let nonce: [u8; NONCE_LEN] = blob[9..HEADER_LEN].try_into().unwrap();
        let key = sealer.data_key(SQS_MANAGED, period, false).unwrap();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding(SQS_MANAGED).aad()),
                &mut text,
            )
            .unwrap();
        blob.truncate(HEADER_LEN);
        blob[0] = BLOB_VERSION_1;
        blob.extend_from_slice(&text);
        blob.extend_from_slice(tag.as_ref());
        assert_eq!(
            sealer.open_message(&binding(SQS_MANAGED), &blob).unwrap(),
            message
        );
    }

    fn policy(key: &str, period_s: u64) -> SealPolicy {
        SealPolicy {
            key: key.into(),
            period_s,
        }
    }

    #[test]
    fn a_sealed_message_opens_with_its_binding_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let mut sealer = Sealer::new(Keyring::open(&dir.path().join("keyring")).unwrap());
        let message = plain("secret body", Some(r#"{"a":1}"#));
        let blob = sealer
            .seal(
                &policy(SQS_MANAGED, 300),
                1_000_000,
                &binding(SQS_MANAGED),
                message.as_ref(),
            )
            .unwrap();
        assert_eq!(blob[0], BLOB_VERSION);
        assert!(!blob.windows(6).any(|w| w == b"secret"));
        let opened = sealer.open_message(&binding(SQS_MANAGED), &blob).unwrap();
        assert_eq!(opened, message);
        let moved = Binding {
            seq: 8,
            ..binding(SQS_MANAGED)
        };
        assert!(sealer.open(&moved, &blob).is_err(), "another row's place");
        let mut flipped = blob.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(sealer.open(&binding(SQS_MANAGED), &flipped).is_err());
        assert!(sealer.open(&binding(SQS_MANAGED), &blob[..20]).is_err());
    }

    #[test]
    fn keys_persist_with_0600_and_a_new_keyring_cannot_open_old_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        let mut sealer = Sealer::new(Keyring::open(&path).unwrap());
        let kms = "kms:alias/aws/sqs";
        let blob = sealer
            .seal(
                &policy(kms, 60),
                5_000,
                &binding(kms),
                plain("x", None).as_ref(),
            )
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut again = Sealer::new(Keyring::open(&path).unwrap());
        assert_eq!(
            again.open_message(&binding(kms), &blob).unwrap(),
            plain("x", None)
        );
        std::fs::remove_file(&path).unwrap();
        let mut fresh = Sealer::new(Keyring::open(&path).unwrap());
        let err = fresh.open(&binding(kms), &blob).unwrap_err();
        assert!(err.contains("does not hold"), "{err}");
        fresh.keyring.get_or_create(kms).unwrap();
        let err = fresh.open(&binding(kms), &blob).unwrap_err();
        assert!(
            err.contains("cannot be decrypted with key kms:alias/aws/sqs"),
            "{err}"
        );
    }

    #[test]
    fn each_period_has_its_own_data_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut sealer = Sealer::new(Keyring::open(&dir.path().join("keyring")).unwrap());
        let p = policy(SQS_MANAGED, 60);
        let b = binding(SQS_MANAGED);
        let a = plain("a", None);
        sealer.seal(&p, 0, &b, a.as_ref()).unwrap();
        sealer.seal(&p, 59_999, &b, a.as_ref()).unwrap();
        assert_eq!(sealer.data_keys[SQS_MANAGED].len(), 1);
        let blob = sealer.seal(&p, 60_000, &b, a.as_ref()).unwrap();
        assert_eq!(sealer.data_keys[SQS_MANAGED].len(), 2);
        assert_eq!(blob[1..9], 1u64.to_be_bytes());
    }

    #[test]
    fn a_damaged_keyring_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring");
        std::fs::write(
            &path,
            "{\"format\":1,\"keys\":{\"sqs-managed\":\"c2hvcnQ=\"}}",
        )
        .unwrap();
        let err = Keyring::open(&path).err().unwrap();
        assert!(
            err.contains("is unreadable") && err.contains("not 32 bytes"),
            "{err}"
        );
    }
}
