//! Watch mode (`lockgate up --watch`): each function's sources are fingerprinted twice a
//! second (what [`crate::builder::source_files`] counts as sources); when they change (and then hold still for a moment), the function is rebuilt and
//! the new build swapped in ([`crate::invoke::Current`]): batches already running finish on
//! the old build, the next batch runs the new one, and no message is dropped or taken twice.
//! A build that fails (a compiler error, a Python or JavaScript syntax error) leaves the old
//! build running and shows the message.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::App;

/// How often sources are looked at.
const POLL: Duration = Duration::from_millis(500);
/// Files a function's sources may have before watching it is given up (with a warning).
const MAX_FILES: usize = 20_000;

/// What a directory tree looks like now: every file's path, size and modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<(PathBuf, u64, SystemTime)>);

impl Fingerprint {
    /// `None` when the tree has more than [`MAX_FILES`] files.
    pub fn of(root: &Path) -> Option<Self> {
        let files = crate::builder::source_files(root, MAX_FILES)?
            .into_iter()
            .filter_map(|path| {
                let meta = std::fs::metadata(&path).ok()?;
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                Some((path, meta.len(), modified))
            })
            .collect();
        Some(Self(files))
    }

    /// The first file that differs (added, removed or changed), for the log.
    pub fn changed_file(&self, before: &Self) -> Option<PathBuf> {
        let (a, b) = (&self.0, &before.0);
        a.iter()
            .zip(b.iter())
            .find(|(x, y)| x != y)
            .map(|(x, _)| x.0.clone())
            .or_else(|| {
                a.get(b.len())
                    .or_else(|| b.get(a.len()))
                    .map(|f| f.0.clone())
            })
    }
}

/// Watches every function of `app` until the future is dropped.
pub async fn watch(app: &App) {
    let mut watched: Vec<(String, PathBuf, Option<Fingerprint>)> = Vec::new();
    for (id, root) in app.sources() {
        let fingerprint = fingerprint(root.clone()).await;
        if fingerprint.is_none() {
            tracing::warn!(
                "not watching {id}: {} has more than {MAX_FILES} files",
                root.display()
            );
            continue;
        }
        tracing::info!("watching {id}: {}", root.display());
        watched.push((id, root, fingerprint));
    }
    loop {
        tokio::time::sleep(POLL).await;
        for (id, root, seen) in &mut watched {
            let now = fingerprint(root.clone()).await;
            if now == *seen {
                continue;
            }
            // An editor may write a file in several steps: wait until the tree holds still.
            let mut settled = now;
            loop {
                tokio::time::sleep(POLL).await;
                let again = fingerprint(root.clone()).await;
                if again == settled {
                    break;
                }
                settled = again;
            }
            let what = match (&settled, &*seen) {
                (Some(now), Some(before)) => now
                    .changed_file(before)
                    .map_or_else(String::new, |f| format!(" ({} changed)", f.display())),
                _ => String::new(),
            };
            *seen = settled;
            tracing::info!("rebuilding {id}{what}");
            let started = Instant::now();
            match app.rebuild(id).await {
                Ok(()) => tracing::info!(
                    "{id}: the new build runs from the next batch (built in {:.1} s)",
                    started.elapsed().as_secs_f64()
                ),
                Err(e) => tracing::error!(
                    "{id}: the build failed; the previous build keeps running:\n{e:#}"
                ),
            }
        }
    }
}

async fn fingerprint(root: PathBuf) -> Option<Fingerprint> {
    tokio::task::spawn_blocking(move || Fingerprint::of(&root))
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_sees_edits_additions_and_removals_but_not_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("app.py"), "v1").unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::create_dir_all(root.join("node_modules/x")).unwrap();
        let first = Fingerprint::of(root).unwrap();
        std::fs::write(root.join("target/debug/out"), "built").unwrap();
        std::fs::write(root.join("node_modules/x/index.js"), "pkg").unwrap();
        assert_eq!(
            Fingerprint::of(root).unwrap(),
            first,
            "outputs are not sources"
        );
        std::fs::write(root.join("app.py"), "v2 longer").unwrap();
        let edited = Fingerprint::of(root).unwrap();
        assert_ne!(edited, first);
        assert_eq!(edited.changed_file(&first), Some(root.join("app.py")));
        std::fs::write(root.join("new.py"), "").unwrap();
        let added = Fingerprint::of(root).unwrap();
        assert_eq!(added.changed_file(&edited), Some(root.join("new.py")));
        std::fs::remove_file(root.join("new.py")).unwrap();
        assert_eq!(Fingerprint::of(root).unwrap(), edited);
    }
}
