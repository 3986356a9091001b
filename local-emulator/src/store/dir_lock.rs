//! One process per data directory. Two processes writing one SQLite store would each keep
//! their own memory of the queues and overwrite each other's acknowledged writes, so the
//! store holds an OS lock (flock) on `<dir>/lock` for as long as its writer runs; the file
//! names the holder's pid so a second process can say who has it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Held while the store is open; dropping it releases the lock.
pub struct DirLock {
    _file: File,
}

pub fn acquire(dir: &Path) -> Result<DirLock, String> {
    let path = dir.join("lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            let pid = std::process::id().to_string();
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| file.write_all(pid.as_bytes()))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(DirLock { _file: file })
        }
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another process".to_string()
            } else {
                format!("another process (pid {holder})")
            };
            Err(format!(
                "the data directory {} is in use by {who}; stop it, or give this one another --data-dir",
                dir.display()
            ))
        }
        Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let first = acquire(&dir).expect("the first holder gets the lock");
        let err = acquire(&dir).err().expect("the second is refused");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains(&dir.display().to_string()), "{err}");
        drop(first);
        acquire(&dir).expect("free again once the first is dropped");
    }
}
