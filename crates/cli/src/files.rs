//! Reading input files with a size limit, and writing files that may hold keys.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::Path;

use anyhow::Context as _;
use zeroize::Zeroizing;

/// The contents of `path`, but at most `limit + 1` bytes: a caller seeing more than
/// `limit` knows the file is too large without having read it all (a tunnel config
/// is small; a wrong argument may be huge). Zeroed when dropped: the file may hold
/// a private key.
pub(crate) fn read_at_most(path: &Path, limit: u64) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let file = File::open(path).with_context(|| format!("could not open {}", path.display()))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("could not read {}", path.display()))?;
    Ok(bytes)
}

/// Writes `bytes` to `path`, readable and writable by the owner only (0600 on
/// Unix), replacing any file there. An existing file is made private before its
/// contents are replaced, so the new contents are never readable by others.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let context = || format!("could not write {}", path.display());
    let mut file = open_private(path).with_context(context)?;
    file.set_len(0).with_context(context)?;
    file.write_all(bytes).with_context(context)?;
    file.sync_all().with_context(context)?;
    Ok(())
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<File> {
    use std::fs::Permissions;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};

    let file = OpenOptions::new()
        .write(true)
        .create(true)
        // Emptied by the caller once the file is private.
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    Ok(file)
}

/// New files inherit the ACL of their folder, private to the user under the profile.
#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}
