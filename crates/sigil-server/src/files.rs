//! Files only this process's user may read: the data directory (0700), the SQLite database
//! (0600; SQLite gives its `-wal` and `-shm` files the database file's mode), the secret (0600),
//! whatever the umask. Session tokens are stored as Better Auth stores them, so reading the
//! database is enough to act as any user: it must not be readable by others.

use std::io;
use std::path::Path;

/// Creates `dir` (and its missing parents) with mode 0700 where it does not exist; warns when
/// an existing one is open to group or others.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        warn_if_shared(dir);
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    // The mode asked for is still filtered by the umask (which can only remove bits), so the
    // directory is at most 0700; set it exactly so that the owner keeps access.
    set_mode(dir, 0o700)
}

/// Creates an empty `file` with mode 0600 when it does not exist (SQLite then opens it as it is
/// and gives its companion files the same mode); warns when an existing one is open to others.
pub(crate) fn private_file(file: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(file) {
        Ok(_) => set_mode(file, 0o600),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            warn_if_shared(file);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

/// One warning at start for a data directory or database file that group or others can read.
#[cfg(unix)]
pub(crate) fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "readable by other users of this machine: it holds session tokens and keys; chmod go-rwx it"
        );
    }
}

#[cfg(not(unix))]
pub(crate) fn warn_if_shared(_: &Path) {}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[allow(clippy::unwrap_used)]
    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_whatever_the_umask() {
        let base = std::env::temp_dir().join(format!("sigil-files-{}", std::process::id()));
        let dir = base.join("a/b");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("sigil.db");
        private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        // An existing file is left as it is (a warning says so when it is shared).
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o644);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
