//! Reading input files with a size limit, and writing files that may hold keys.

use std::fs::File;
use std::io::{self, ErrorKind, Read as _, Write as _};
use std::path::Path;

use zeroize::Zeroizing;

/// The contents of `path`, but at most `limit + 1` bytes: a caller seeing more than
/// `limit` knows the file is too large without having read it all (a tunnel config
/// is small; a wrong argument may be huge). Zeroed when dropped: the file may hold
/// a private key.
///
/// The buffer is sized from the file's length before reading and never reallocated
/// behind our back (which would leave a copy of a key in freed memory): if the file
/// grew meanwhile, a bigger zeroed buffer takes over and the old one is zeroed.
pub fn read_at_most(path: &Path, limit: u64) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut file = File::open(path).map_err(|e| with_path("could not open", path, e))?;
    let max = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    let hint = file
        .metadata()
        .ok()
        .and_then(|m| usize::try_from(m.len()).ok())
        .map_or(8 * 1024, |len| len.saturating_add(1));
    let mut bytes = Zeroizing::new(vec![0u8; hint.clamp(1, max)]);
    let mut filled = 0;
    while filled < max {
        if filled == bytes.len() {
            let mut bigger = Zeroizing::new(vec![0u8; bytes.len().saturating_mul(2).min(max)]);
            bigger[..filled].copy_from_slice(&bytes[..filled]);
            bytes = bigger;
        }
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(with_path("could not read", path, e)),
        }
    }
    // Shrinking the length keeps the allocation, which `Zeroizing` zeroes in full.
    bytes.truncate(filled);
    Ok(bytes)
}

/// Writes `bytes` to `path`, readable and writable by the owner only (0600 on
/// Unix), replacing whatever is there.
///
/// The bytes go to a new file in the same directory (created exclusively, so never
/// through a symlink nor into an existing file, mode 0600 from the start), which is
/// synced and then renamed over `path`; the directory is synced too. So a symlink at
/// `path` is replaced rather than followed, an existing file's inode (and any
/// descriptor someone opened on it while it was readable) never sees the new
/// contents, and a crash leaves either the old file or the new one.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let context = |e| with_path("could not write", path, e);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            ErrorKind::InvalidInput,
            format!("{} is not a file name", path.display()),
        )
    })?;
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    // tempfile opens with O_CREAT | O_EXCL, which fails on any existing name,
    // a symlink included (so it has O_NOFOLLOW's effect), and retries another name.
    let mut temp = builder.tempfile_in(dir).map_err(context)?;
    temp.write_all(bytes).map_err(context)?;
    temp.as_file().sync_all().map_err(context)?;
    // rename(2): replaces a symlink at `path` itself, never its target.
    temp.persist(path).map_err(|e| context(e.error))?;
    sync_dir(dir).map_err(context)?;
    Ok(())
}

/// `error` with what was being done to which file, as a person needs to read it.
fn with_path(doing: &str, path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{doing} {}: {error}", path.display()))
}

/// Makes a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows has no directory fsync; the rename (MoveFileEx) is durable enough.
#[cfg(not(unix))]
fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_at_most_limit_plus_one_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![7u8; 100_000]).unwrap();
        let bytes = read_at_most(&path, 10).unwrap();
        assert_eq!(*bytes, vec![7u8; 11]);
        let bytes = read_at_most(&path, 1 << 20).unwrap();
        assert_eq!(bytes.len(), 100_000);
        assert!(
            bytes.capacity() <= 100_001,
            "sized up front: {}",
            bytes.capacity()
        );
        std::fs::write(&path, b"").unwrap();
        assert!(read_at_most(&path, 10).unwrap().is_empty());
    }

    #[cfg(unix)]
    mod unix {
        use std::fs;
        use std::io::{Read as _, Seek as _};
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};

        use super::super::write_private;

        fn mode(path: &std::path::Path) -> u32 {
            fs::symlink_metadata(path).unwrap().mode() & 0o7777
        }

        #[test]
        fn a_symlink_is_replaced_not_followed() {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("target");
            fs::write(&target, "untouched").unwrap();
            let link = dir.path().join("out.conf");
            symlink(&target, &link).unwrap();
            write_private(&link, b"secret").unwrap();
            assert!(
                fs::symlink_metadata(&link).unwrap().is_file(),
                "the link is gone"
            );
            assert_eq!(fs::read_to_string(&link).unwrap(), "secret");
            assert_eq!(mode(&link), 0o600);
            assert_eq!(fs::read_to_string(&target).unwrap(), "untouched");
            // A dangling link is replaced too, not followed to create its target.
            let dangling = dir.path().join("dangling.conf");
            let nowhere = dir.path().join("nowhere");
            symlink(&nowhere, &dangling).unwrap();
            write_private(&dangling, b"secret").unwrap();
            assert!(!nowhere.exists());
            assert_eq!(mode(&dangling), 0o600);
        }

        #[test]
        fn an_existing_file_is_replaced_by_a_new_private_one() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("wg0.conf");
            fs::write(&path, "old").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let old_ino = fs::metadata(&path).unwrap().ino();
            // Someone opened the file while it was world-readable.
            let mut early = fs::File::open(&path).unwrap();

            write_private(&path, b"PrivateKey = secret\n").unwrap();

            assert_eq!(fs::read_to_string(&path).unwrap(), "PrivateKey = secret\n");
            assert_eq!(mode(&path), 0o600);
            assert_ne!(fs::metadata(&path).unwrap().ino(), old_ino);
            let mut seen = String::new();
            early.rewind().unwrap();
            early.read_to_string(&mut seen).unwrap();
            assert_eq!(seen, "old", "the old inode was not written to");
            // No temporary file is left behind.
            assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        }

        #[test]
        fn a_new_file_is_private() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("new.conf");
            write_private(&path, b"x").unwrap();
            assert_eq!(mode(&path), 0o600);
        }
    }
}
