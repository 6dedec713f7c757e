//! The squashfs image inside an AppImage, and extracting it to a directory in-process
//! (no `unsquashfs` needed on the user's system).
//!
//! Extraction refuses paths that would leave the target (absolute, `..`, or through a
//! symlink the image itself made), and drops setuid/setgid bits: an AppImage is
//! often run as a downloaded file of unknown origin.

use crate::Error;
use crate::elf::{self, SQUASHFS_MAGIC};
use backhand::{FilesystemReader, InnerNode};
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::{Component, Path, PathBuf};

/// An AppImage file and where its squashfs image starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub path: PathBuf,
    pub offset: u64,
}

impl Payload {
    /// Finds the image in `path`: after the ELF file, starting with the squashfs magic.
    pub fn locate(path: &Path) -> Result<Self, Error> {
        let not_an_appimage = |reason: String| Error::NotAnAppImage {
            path: path.to_owned(),
            reason,
        };
        let mut file = File::open(path).map_err(Error::io(path))?;
        let mut head = Vec::with_capacity(64);
        (&mut file)
            .take(64)
            .read_to_end(&mut head)
            .map_err(Error::io(path))?;
        let offset = elf::payload_offset(&head).map_err(|e| not_an_appimage(e.to_string()))?;
        let mut magic = [0u8; 4];
        let found = read_at(&file, offset, &mut magic).map_err(Error::io(path))?;
        if !found || magic != SQUASHFS_MAGIC {
            return Err(not_an_appimage(format!(
                "no squashfs image follows the runtime at offset {offset} (was the runtime run \
                 on its own, without an image appended?)"
            )));
        }
        Ok(Self {
            path: path.to_owned(),
            offset,
        })
    }

    /// A name for this exact image, for a cache directory: it changes when the file
    /// is replaced or rebuilt.
    pub fn cache_key(&self) -> Result<String, Error> {
        let file = File::open(&self.path).map_err(Error::io(&self.path))?;
        let meta = file.metadata().map_err(Error::io(&self.path))?;
        // The superblock holds the image's creation time, size and table offsets.
        let mut superblock = [0u8; 96];
        read_at(&file, self.offset, &mut superblock).map_err(Error::io(&self.path))?;
        let mut hash = Fnv1a::default();
        hash.write(&meta.len().to_le_bytes());
        hash.write(&meta.mtime().to_le_bytes());
        hash.write(&meta.ino().to_le_bytes());
        hash.write(&superblock);
        let stem = self
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("appimage")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>();
        Ok(format!("{stem}-{:016x}", hash.0))
    }

    /// Extracts every entry (or those under `prefix`) into `target`, calling `on_entry`
    /// with each path written. Returns how many entries were written.
    pub fn extract_to(
        &self,
        target: &Path,
        prefix: Option<&Path>,
        mut on_entry: impl FnMut(&Path),
    ) -> Result<usize, Error> {
        let file = File::open(&self.path).map_err(Error::io(&self.path))?;
        let image = FilesystemReader::from_reader_with_offset(BufReader::new(file), self.offset)
            .map_err(|source| Error::Squashfs {
                path: self.path.clone(),
                offset: self.offset,
                source,
            })?;
        fs::create_dir_all(target).map_err(Error::io(target))?;
        let mut directories = Vec::new();
        let mut written = 0;
        for node in image.files() {
            let relative = safe_relative(&node.fullpath)?;
            if relative.as_os_str().is_empty() || prefix.is_some_and(|p| !relative.starts_with(p)) {
                continue;
            }
            let dest = target.join(&relative);
            refuse_symlinked_parents(target, &relative)?;
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(Error::io(parent))?;
            }
            let mode = u32::from(node.header.permissions) & 0o777;
            match &node.inner {
                InnerNode::Dir(_) => {
                    match fs::symlink_metadata(&dest) {
                        Ok(meta) if meta.is_dir() => {}
                        Ok(_) => remove(&dest)?,
                        Err(_) => {}
                    }
                    if !dest.is_dir() {
                        fs::create_dir(&dest).map_err(Error::io(&dest))?;
                    }
                    // Applied at the end, so a read-only directory can still be filled.
                    directories.push((dest.clone(), mode | 0o700));
                }
                InnerNode::File(entry) => {
                    replace_non_directory(&dest)?;
                    let mut out = File::create(&dest).map_err(Error::io(&dest))?;
                    io::copy(&mut image.file(entry).reader(), &mut out)
                        .map_err(Error::io(&dest))?;
                    fs::set_permissions(&dest, fs::Permissions::from_mode(mode))
                        .map_err(Error::io(&dest))?;
                }
                InnerNode::Symlink(link) => {
                    replace_non_directory(&dest)?;
                    symlink(&link.link, &dest).map_err(Error::io(&dest))?;
                }
                // Device nodes, pipes and sockets have no place in an AppDir.
                _ => continue,
            }
            written += 1;
            on_entry(&relative);
        }
        for (dir, mode) in directories.iter().rev() {
            fs::set_permissions(dir, fs::Permissions::from_mode(*mode)).map_err(Error::io(dir))?;
        }
        Ok(written)
    }
}

/// `path` (as stored in the image, from its root) relative to the root, or an error
/// when it would point outside it.
pub fn safe_relative(path: &Path) -> Result<PathBuf, Error> {
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => relative.push(part),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::UnsafePath(path.to_owned()));
            }
        }
    }
    Ok(relative)
}

/// An entry under a symlink the image made (`lib -> /etc`, then `lib/passwd`) would be
/// written outside the target.
fn refuse_symlinked_parents(target: &Path, relative: &Path) -> Result<(), Error> {
    let mut at = target.to_path_buf();
    let parents = relative.parent().into_iter().flat_map(Path::components);
    for part in parents {
        at.push(part);
        if fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::UnsafePath(relative.to_owned()));
        }
    }
    Ok(())
}

/// Creating a file where a symlink stands would write through it.
fn replace_non_directory(dest: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(dest).map_err(Error::io(dest)),
        Ok(_) => remove(dest),
        Err(_) => Ok(()),
    }
}

fn remove(path: &Path) -> Result<(), Error> {
    fs::remove_file(path).map_err(Error::io(path))
}

/// Fills `buf` from `offset`; false when the file ends first.
fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<bool> {
    use std::os::unix::fs::FileExt as _;
    match file.read_exact_at(buf, offset) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// FNV-1a, 64 bit: stable across Rust versions, unlike `DefaultHasher`.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths_become_relative() {
        assert_eq!(
            safe_relative(Path::new("/usr/bin/app")).unwrap(),
            Path::new("usr/bin/app")
        );
        assert_eq!(safe_relative(Path::new("/")).unwrap(), Path::new(""));
        assert!(matches!(
            safe_relative(Path::new("/usr/../../etc/passwd")),
            Err(Error::UnsafePath(_))
        ));
    }

    #[test]
    fn entries_below_a_symlink_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        symlink("/etc", dir.path().join("lib")).unwrap();
        assert!(matches!(
            refuse_symlinked_parents(dir.path(), Path::new("lib/passwd")),
            Err(Error::UnsafePath(_))
        ));
        fs::create_dir(dir.path().join("usr")).unwrap();
        assert!(refuse_symlinked_parents(dir.path(), Path::new("usr/bin/app")).is_ok());
    }

    #[test]
    fn a_file_without_an_image_is_not_an_appimage() {
        let exe = std::env::current_exe().unwrap();
        let error = Payload::locate(&exe).unwrap_err();
        assert!(
            error.to_string().contains("no squashfs image follows"),
            "{error}"
        );
        let text = tempfile::NamedTempFile::new().unwrap();
        fs::write(text.path(), "#!/bin/sh\necho hello\n").unwrap();
        assert!(matches!(
            Payload::locate(text.path()),
            Err(Error::NotAnAppImage { .. })
        ));
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // The published FNV-1a 64 test vector for "a".
        let mut hash = Fnv1a::default();
        hash.write(b"a");
        assert_eq!(hash.0, 0xaf63_dc4c_8601_ec8c);
    }
}
