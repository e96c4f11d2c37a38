//! The SQLite file a store opened, so that a file deleted or replaced underneath the running
//! server is noticed. Pooled connections keep using the file they opened (a deleted inode stays
//! alive while open), so writes would succeed into a file nobody reads again: the store refuses
//! to answer from it instead, and says so once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::StoreError;

/// Device and inode of a file (where the platform has them).
type Identity = (u64, u64);

#[cfg(unix)]
fn identity(path: &Path) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<Identity> {
    std::fs::metadata(path).ok().map(|_| (0, 0))
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
            opened: identity(path),
            replaced: AtomicBool::new(false),
            lost: tokio::sync::watch::Sender::new(false),
        }
    }

    /// `Err(StoreError::FileReplaced)` once the file at the path is not the one opened (deleted,
    /// moved, or restored from a copy); from then on, always.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        if !self.replaced.load(Ordering::Relaxed) {
            if identity(&self.path) == self.opened && self.opened.is_some() {
                return Ok(());
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
