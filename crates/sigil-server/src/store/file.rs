//! The SQLite file a store opened, so that a file deleted or replaced underneath the running
//! server is noticed. Pooled connections keep using the file they opened (a deleted inode stays
//! alive while open), so writes would succeed into a file nobody reads again: the store refuses
//! to answer from it instead, and says so once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::StoreError;

/// Device and inode of a file (where the platform has them).
type Identity = (u64, u64);

/// The file's identity; `Ok(None)` when nothing is at the path; `Err` for any other failure to
/// look (a permission, an I/O error), which proves nothing about the file.
#[cfg(unix)]
fn identity(path: &Path) -> std::io::Result<Option<Identity>> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some((m.dev(), m.ino()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn identity(path: &Path) -> std::io::Result<Option<Identity>> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(Some((0, 0))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The database file as it was when the store opened it.
#[derive(Debug)]
pub(super) struct OpenedFile {
    path: PathBuf,
    opened: Option<Identity>,
    replaced: AtomicBool,
    lost: tokio::sync::watch::Sender<bool>,
}

impl OpenedFile {
    /// Records the identity of `path` now (the file exists: the store created it if needed).
    pub(super) fn new(path: &Path) -> Self {
        OpenedFile {
            path: path.to_owned(),
            opened: identity(path).ok().flatten(),
            replaced: AtomicBool::new(false),
            lost: tokio::sync::watch::Sender::new(false),
        }
    }

    /// `Err(StoreError::FileReplaced)` once the file at the path is not the one opened (deleted,
    /// moved, or restored from a copy); from then on, always.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        if !self.replaced.load(Ordering::Relaxed) {
            match identity(&self.path) {
                // Nothing recorded at open (the file could not be looked at then): nothing to
                // compare with.
                _ if self.opened.is_none() => return Ok(()),
                Ok(now) if now == self.opened => return Ok(()),
                Ok(_) => {}
                // A failure to look proves nothing: the call goes on (and fails by itself if the
                // file is really unreadable); only a missing or different file latches.
                Err(e) => {
                    tracing::debug!(path = %self.path.display(), error = %e, "cannot stat the database file");
                    return Ok(());
                }
            }
            if !self.replaced.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    path = %self.path.display(),
                    "the SQLite database file was deleted or replaced while the server ran: \
                     refusing to read or write through the old file (503); restart the server \
                     to open the file now at that path"
                );
                self.lost.send_replace(true);
            }
        }
        Err(StoreError::FileReplaced {
            path: self.path.clone(),
        })
    }

    /// Resolves once the file is found replaced.
    pub(super) async fn lost(&self) {
        let mut rx = self.lost.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail while it is borrowed.
        let _ = rx.wait_for(|lost| *lost).await;
    }
}
