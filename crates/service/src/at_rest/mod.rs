//! How tunnel configs are kept at rest: the one part of the config store that differs
//! per OS. On Unix a config is the text as written (so `wg-quick` and a person can read
//! it), protected by its 0600 mode in a 0700 directory; on Windows it is sealed with DPAPI
//! under the service's own account (LocalSystem) in a directory only SYSTEM and
//! Administrators may open, as wireguard-windows does. The store reads and writes through
//! a [`Sealer`], so nothing else in the service sees the difference.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as imp;

// Built for x86_64-pc-windows-gnu and tested under wine; what only a real Windows can
// show is listed in windows.rs.
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

/// Turns a config's text into the bytes kept on disk, and back.
pub trait Sealer: Send + Sync + fmt::Debug {
    /// What a stored config's file name ends with, after the tunnel's name. Sealed and
    /// plain files differ, so a plain `.conf` dropped into a sealed store is not misread.
    fn extension(&self) -> &'static str;

    fn seal(&self, text: &str) -> Result<Zeroizing<Vec<u8>>, SealError>;

    fn unseal(&self, sealed: &[u8]) -> Result<Zeroizing<String>, SealError>;
}

/// Why a config could not be sealed or unsealed; the store names the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SealError(pub String);

/// The identity: the config as written. Its protection is the file's mode.
#[derive(Debug, Default, Clone, Copy)]
pub struct Plaintext;

impl Sealer for Plaintext {
    fn extension(&self) -> &'static str {
        ".conf"
    }

    fn seal(&self, text: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        Ok(Zeroizing::new(text.as_bytes().to_vec()))
    }

    fn unseal(&self, sealed: &[u8]) -> Result<Zeroizing<String>, SealError> {
        match std::str::from_utf8(sealed) {
            Ok(text) => Ok(Zeroizing::new(text.to_owned())),
            Err(error) => Err(SealError(format!(
                "it is not UTF-8 text (byte {}); fix or delete the file",
                error.valid_up_to()
            ))),
        }
    }
}

/// This OS's way: [`Plaintext`] on Unix, DPAPI on Windows.
pub fn platform_sealer() -> Arc<dyn Sealer> {
    imp::sealer()
}

/// Creates `dir` (and its parents) so that only the service's account and the
/// administrators can open it, and makes an existing one so.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    imp::create_private_dir(dir)
}

/// The file mode a stored config is written with (Unix; Windows files inherit the
/// directory's access list instead).
pub(crate) const FILE_MODE: u32 = 0o600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_keeps_the_text_exactly_and_refuses_non_text() {
        let text = "# mine\n[Interface]\nPrivateKey = x\n\u{e9}\n";
        let sealed = Plaintext.seal(text).unwrap();
        assert_eq!(&sealed[..], text.as_bytes());
        assert_eq!(Plaintext.unseal(&sealed).unwrap().as_str(), text);
        let error = Plaintext.unseal(b"[Interface]\n\xff\xfe").unwrap_err();
        assert!(error.to_string().contains("not UTF-8"), "{error}");
        assert_eq!(Plaintext.extension(), ".conf");
    }

    #[cfg(unix)]
    #[test]
    fn the_unix_store_is_plain_text_in_a_private_directory() {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(platform_sealer().extension(), ".conf");
        let dir = std::env::temp_dir().join(format!("culvertd-at-rest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let inner = dir.join("a/b");
        create_private_dir(&inner).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&inner), 0o700);
        // An existing directory that is too open is closed.
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&inner).unwrap();
        assert_eq!(mode(&inner), 0o700);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
