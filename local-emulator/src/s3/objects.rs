//! Buckets and objects on disk, with an index in memory.
//!
//! ```text
//! <root>/<bucket>/bucket.json                 when it was made, its region
//! <root>/<bucket>/objects/<sha256(key)>.json  an object: its metadata and its pieces
//! <root>/<bucket>/uploads/<upload id>.json    a multipart upload in progress and its parts
//! <root>/<bucket>/data/<random id>            one sealed piece (see `sealed`)
//! ```
//!
//! A piece is written and synced before the JSON naming it is replaced (write, sync, rename,
//! sync the directory), so a crash leaves the old object or the new one; a piece no JSON
//! names (a crash mid-upload) is deleted at start. The JSON files are the truth; the index is
//! rebuilt from them at start.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::S3Error;
use super::sealed::{PieceKey, PieceWriter};
use crate::queue::message::hex;
use crate::store::sealing::Keyring;

/// The keyring name of S3-managed encryption (SSE-S3).
pub const S3_MANAGED: &str = "s3-managed";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketMeta {
    pub created_s: u64,
    pub region: String,
    pub owner: String,
}

/// One sealed file of an object's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Piece {
    pub file: String,
    pub size: u64,
    /// The salt its data key is derived with (base64).
    pub salt: String,
    /// The keyring key it is sealed under.
    pub key: String,
}

/// What a PUT (or a multipart upload's start) says about the object besides its bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    /// Content-Disposition, Content-Encoding, Content-Language, Cache-Control, Expires and
    /// `x-amz-meta-*`, names lower-case, as sent.
    pub headers: BTreeMap<String, String>,
    /// `AES256` or `aws:kms`.
    pub sse: String,
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub modified_s: u64,
    #[serde(flatten)]
    pub headers: ObjectHeaders,
    pub pieces: Vec<Piece>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub piece: Piece,
    /// MD5 of the part, hex.
    pub md5: String,
    pub modified_s: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub key: String,
    pub created_s: u64,
    pub headers: ObjectHeaders,
    pub parts: BTreeMap<u32, Part>,
}

#[derive(Default)]
struct Bucket {
    meta: Option<BucketMeta>,
    objects: BTreeMap<String, ObjectMeta>,
    uploads: HashMap<String, Upload>,
}

/// A piece being written; [`Objects::seal_piece`] makes one.
pub struct NewPiece {
    pub writer: PieceWriter,
    pub piece: Piece,
    path: PathBuf,
}

impl NewPiece {
    /// Seals the last segment and syncs the file: the piece, ready to be named by an object
    /// or part (the file is removed if this fails).
    pub async fn finish(self) -> std::io::Result<Piece> {
        let NewPiece {
            writer,
            mut piece,
            path,
        } = self;
        match writer.finish().await {
            Ok(size) => {
                piece.size = size;
                Ok(piece)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// Deletes the file of a piece that will not be kept (a failed or refused upload).
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub struct Objects {
    root: PathBuf,
    /// Delete `root` when dropped (an in-memory emulator's objects).
    temporary: bool,
    keyring: Mutex<Keyring>,
    index: Mutex<BTreeMap<String, Bucket>>,
    /// Serializes commits (JSON written, index changed, replaced pieces deleted).
    commits: tokio::sync::Mutex<()>,
}

impl Drop for Objects {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    crate::os_random::fill(&mut buf);
    hex(&buf)
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn object_file(root: &Path, bucket: &str, key: &str) -> PathBuf {
    root.join(bucket)
        .join("objects")
        .join(format!("{}.json", hex(&Sha256::digest(key.as_bytes()))))
}

fn io_error(e: impl std::fmt::Display) -> S3Error {
    S3Error::internal(format!("the object store could not write: {e}"))
}

impl Objects {
    /// The objects of a durable emulator: `<data dir>/s3`, sealed under its keyring.
    pub fn in_data_dir(dir: &Path, keyring: &Path) -> Result<Self, String> {
        Self::open(&dir.join("s3"), keyring, false)
    }

    /// The objects of an in-memory emulator: too large for memory, they get a directory of
    /// their own (and a keyring) under the system's temporary one, removed when they are
    /// dropped.
    pub fn temporary() -> Result<Self, String> {
        let root = std::env::temp_dir().join(format!(
            "lockgate-objects-{}-{}",
            std::process::id(),
            random_hex(8)
        ));
        Self::open(&root, &root.join(".keyring"), true)
    }

    /// Opens (or creates) the objects under `root`, rebuilding the index and deleting pieces
    /// nothing names. `keyring` holds the encryption keys (shared with the queues').
    fn open(root: &Path, keyring: &Path, temporary: bool) -> Result<Self, String> {
        std::fs::create_dir_all(root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let mut index = BTreeMap::new();
        for entry in
            std::fs::read_dir(root).map_err(|e| format!("cannot read {}: {e}", root.display()))?
        {
            let dir = entry.map_err(|e| e.to_string())?.path();
            let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                continue;
            };
            if !dir.is_dir() || super::check_bucket_name(&name).is_err() {
                continue;
            }
            index.insert(name, load_bucket(&dir)?);
        }
        Ok(Self {
            root: root.to_path_buf(),
            temporary,
            keyring: Mutex::new(Keyring::open(keyring)?),
            index: Mutex::new(index),
            commits: tokio::sync::Mutex::new(()),
        })
    }

    fn index(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Bucket>> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn bucket(&self, name: &str) -> Option<BucketMeta> {
        self.index().get(name).and_then(|b| b.meta.clone())
    }

    pub fn buckets(&self) -> Vec<(String, BucketMeta)> {
        self.index()
            .iter()
            .filter_map(|(name, b)| Some((name.clone(), b.meta.clone()?)))
            .collect()
    }

    /// Makes a bucket; `Ok(false)` when it already exists.
    pub async fn create_bucket(&self, name: &str, meta: BucketMeta) -> Result<bool, S3Error> {
        let _commit = self.commits.lock().await;
        if self.bucket(name).is_some() {
            return Ok(false);
        }
        let dir = self.root.join(name);
        for sub in ["objects", "uploads", "data"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(io_error)?;
        }
        write_atomically(
            &dir.join("bucket.json"),
            &serde_json::to_vec(&meta).expect("serializes"),
        )
        .map_err(io_error)?;
        self.index().entry(name.to_string()).or_default().meta = Some(meta);
        Ok(true)
    }

    pub async fn delete_bucket(&self, name: &str) -> Result<(), S3Error> {
        let _commit = self.commits.lock().await;
        {
            let index = self.index();
            let bucket = index
                .get(name)
                .filter(|b| b.meta.is_some())
                .ok_or_else(|| S3Error::no_such_bucket(name))?;
            if !bucket.objects.is_empty() {
                return Err(S3Error::new(
                    409,
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty",
                )
                .with("BucketName", name));
            }
        }
        // bucket.json goes first: a crash half-way leaves no bucket, only files to remove.
        let dir = self.root.join(name);
        std::fs::remove_file(dir.join("bucket.json")).map_err(io_error)?;
        let _ = std::fs::remove_dir_all(&dir);
        self.index().remove(name);
        Ok(())
    }

    /// A new piece file in `bucket`, sealed under `headers`' key.
    pub async fn seal_piece(
        &self,
        bucket: &str,
        headers: &ObjectHeaders,
    ) -> Result<NewPiece, S3Error> {
        if self.bucket(bucket).is_none() {
            return Err(S3Error::no_such_bucket(bucket));
        }
        let key_name = match &headers.kms_key_id {
            Some(id) => format!("kms:{id}"),
            None => S3_MANAGED.to_string(),
        };
        let master = {
            let mut keyring = self.keyring.lock().unwrap_or_else(|e| e.into_inner());
            keyring
                .get_or_create(&key_name)
                .map_err(S3Error::internal)?
        };
        let mut salt = [0u8; 32];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| S3Error::internal("no random source"))?;
        let file = random_hex(16);
        let path = self.root.join(bucket).join("data").join(&file);
        let handle = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(io_error)?;
        Ok(NewPiece {
            writer: PieceWriter::new(handle, PieceKey::derive(&master, &salt)),
            piece: Piece {
                file,
                size: 0,
                salt: base64::engine::general_purpose::STANDARD.encode(salt),
                key: key_name,
            },
            path,
        })
    }

    /// Makes `meta` the object at its key, replacing (and deleting the pieces of) the one
    /// there. The pieces must be written and synced.
    pub async fn put_object(&self, bucket: &str, meta: ObjectMeta) -> Result<(), S3Error> {
        let _commit = self.commits.lock().await;
        if self.bucket(bucket).is_none() {
            self.delete_pieces(bucket, &meta.pieces);
            return Err(S3Error::no_such_bucket(bucket));
        }
        write_atomically(
            &object_file(&self.root, bucket, &meta.key),
            &serde_json::to_vec(&meta).expect("serializes"),
        )
        .map_err(io_error)?;
        let replaced = {
            let mut index = self.index();
            let b = index
                .get_mut(bucket)
                .expect("checked above, under the commit lock");
            b.objects.insert(meta.key.clone(), meta)
        };
        if let Some(old) = replaced {
            self.delete_pieces(bucket, &old.pieces);
        }
        Ok(())
    }

    /// An object's metadata, and its pieces opened (so a replacement committed meanwhile
    /// cannot take the bytes away mid-read).
    pub fn open_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(ObjectMeta, Vec<(std::fs::File, PieceKey)>), S3Error> {
        let index = self.index();
        let b = index
            .get(bucket)
            .filter(|b| b.meta.is_some())
            .ok_or_else(|| S3Error::no_such_bucket(bucket))?;
        let meta = b
            .objects
            .get(key)
            .ok_or_else(|| S3Error::no_such_key(key))?
            .clone();
        drop(index);
        let mut opened = Vec::with_capacity(meta.pieces.len());
        for piece in &meta.pieces {
            let file =
                std::fs::File::open(self.root.join(bucket).join("data").join(&piece.file))
                    .map_err(|e| S3Error::internal(format!("the object's data is missing: {e}")))?;
            opened.push((file, self.piece_key(piece)?));
        }
        Ok((meta, opened))
    }

    fn piece_key(&self, piece: &Piece) -> Result<PieceKey, S3Error> {
        let keyring = self.keyring.lock().unwrap_or_else(|e| e.into_inner());
        let master = keyring.get(&piece.key).ok_or_else(|| {
            S3Error::internal(format!(
                "the object is encrypted with key {}, which the keyring {} does not hold",
                piece.key,
                keyring.path().display()
            ))
        })?;
        let salt: [u8; 32] = base64::engine::general_purpose::STANDARD
            .decode(&piece.salt)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| S3Error::internal("the object's metadata is damaged"))?;
        Ok(PieceKey::derive(master, &salt))
    }

    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        let _commit = self.commits.lock().await;
        if self.bucket(bucket).is_none() {
            return Err(S3Error::no_such_bucket(bucket));
        }
        let path = object_file(&self.root, bucket, key);
        match std::fs::remove_file(&path) {
            Ok(()) => sync_dir(path.parent().expect("has a parent")).map_err(io_error)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(e)),
        }
        let removed = self
            .index()
            .get_mut(bucket)
            .and_then(|b| b.objects.remove(key));
        if let Some(old) = removed {
            self.delete_pieces(bucket, &old.pieces);
        }
        Ok(())
    }

    fn delete_pieces(&self, bucket: &str, pieces: &[Piece]) {
        for piece in pieces {
            let _ = std::fs::remove_file(self.root.join(bucket).join("data").join(&piece.file));
        }
    }

    /// Keys in order after `after`, at most `max`, each with its metadata.
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        mut visit: impl FnMut(&ObjectMeta) -> bool,
    ) -> Result<(), S3Error> {
        let index = self.index();
        let b = index
            .get(bucket)
            .filter(|b| b.meta.is_some())
            .ok_or_else(|| S3Error::no_such_bucket(bucket))?;
        let start = if after.as_bytes() > prefix.as_bytes() {
            after
        } else {
            prefix
        };
        for (key, meta) in b
            .objects
            .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
        {
            if key.as_str() == after {
                continue;
            }
            if !key.starts_with(prefix) || !visit(meta) {
                break;
            }
        }
        Ok(())
    }

    pub async fn create_upload(&self, bucket: &str, upload: Upload) -> Result<String, S3Error> {
        let _commit = self.commits.lock().await;
        if self.bucket(bucket).is_none() {
            return Err(S3Error::no_such_bucket(bucket));
        }
        let id = random_hex(16);
        self.write_upload(bucket, &id, &upload)?;
        self.index()
            .get_mut(bucket)
            .expect("checked above")
            .uploads
            .insert(id.clone(), upload);
        Ok(id)
    }

    fn write_upload(&self, bucket: &str, id: &str, upload: &Upload) -> Result<(), S3Error> {
        write_atomically(
            &self
                .root
                .join(bucket)
                .join("uploads")
                .join(format!("{id}.json")),
            &serde_json::to_vec(upload).expect("serializes"),
        )
        .map_err(io_error)
    }

    /// The upload's headers (what its parts are sealed under).
    pub fn upload(&self, bucket: &str, id: &str) -> Result<Upload, S3Error> {
        let index = self.index();
        let b = index
            .get(bucket)
            .filter(|b| b.meta.is_some())
            .ok_or_else(|| S3Error::no_such_bucket(bucket))?;
        b.uploads
            .get(id)
            .cloned()
            .ok_or_else(S3Error::no_such_upload)
    }

    pub async fn put_part(
        &self,
        bucket: &str,
        id: &str,
        number: u32,
        part: Part,
    ) -> Result<(), S3Error> {
        let _commit = self.commits.lock().await;
        let mut upload = match self.upload(bucket, id) {
            Ok(upload) => upload,
            Err(e) => {
                self.delete_pieces(bucket, std::slice::from_ref(&part.piece));
                return Err(e);
            }
        };
        let replaced = upload.parts.insert(number, part);
        self.write_upload(bucket, id, &upload)?;
        self.index()
            .get_mut(bucket)
            .expect("checked above")
            .uploads
            .insert(id.to_string(), upload);
        if let Some(old) = replaced {
            self.delete_pieces(bucket, &[old.piece]);
        }
        Ok(())
    }

    /// Ends an upload: the listed parts (checked by the caller) become the object, the rest
    /// are deleted.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        id: &str,
        meta: ObjectMeta,
        unused: Vec<Piece>,
    ) -> Result<(), S3Error> {
        self.put_object(bucket, meta).await?;
        self.forget_upload(bucket, id, &unused).await
    }

    pub async fn abort_upload(&self, bucket: &str, id: &str) -> Result<(), S3Error> {
        let upload = self.upload(bucket, id)?;
        let pieces: Vec<Piece> = upload.parts.into_values().map(|p| p.piece).collect();
        self.forget_upload(bucket, id, &pieces).await
    }

    async fn forget_upload(&self, bucket: &str, id: &str, pieces: &[Piece]) -> Result<(), S3Error> {
        let _commit = self.commits.lock().await;
        let path = self
            .root
            .join(bucket)
            .join("uploads")
            .join(format!("{id}.json"));
        let _ = std::fs::remove_file(&path);
        if let Some(b) = self.index().get_mut(bucket) {
            b.uploads.remove(id);
        }
        self.delete_pieces(bucket, pieces);
        Ok(())
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{} is damaged ({e}): restore it, or move it aside to start without it",
            path.display()
        )
    })
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(files);
    };
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => files.push(path),
            // A replacement that did not reach its rename.
            Some("tmp") => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
    Ok(files)
}

fn load_bucket(dir: &Path) -> Result<Bucket, String> {
    let meta_path = dir.join("bucket.json");
    if !meta_path.exists() {
        // A bucket deleted part-way: finish the job.
        let _ = std::fs::remove_dir_all(dir);
        return Ok(Bucket::default());
    }
    let mut bucket = Bucket {
        meta: Some(read_json(&meta_path)?),
        ..Bucket::default()
    };
    let mut named = std::collections::HashSet::new();
    for path in json_files(&dir.join("objects"))? {
        let meta: ObjectMeta = read_json(&path)?;
        named.extend(meta.pieces.iter().map(|p| p.file.clone()));
        bucket.objects.insert(meta.key.clone(), meta);
    }
    for path in json_files(&dir.join("uploads"))? {
        let upload: Upload = read_json(&path)?;
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        named.extend(upload.parts.values().map(|p| p.piece.file.clone()));
        bucket.uploads.insert(id, upload);
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("data")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !named.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(bucket)
}
