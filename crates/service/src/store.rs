//! The config store: one file per tunnel in a private directory, every write atomic
//! (temp file, fsync, rename, fsync the directory), so a crash never leaves a truncated
//! or lost config. Names follow wg-quick's rule. What a file holds is the [`Sealer`]'s
//! business (`crate::at_rest`): the text as written in a 0600 `NAME.conf` on Unix, a
//! DPAPI-sealed `NAME.conf.dpapi` on Windows.

use crate::at_rest::{self, SealError, Sealer};
use culvert_config::{ParseErrors, TunnelName};
use culvert_netconf::write_atomically;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("there is no tunnel named {0}")]
    NotFound(String),
    #[error("a tunnel named {0} exists already")]
    AlreadyExists(String),
    #[error("the config of {name} is not valid:\n{errors}")]
    Invalid { name: String, errors: ParseErrors },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Write(#[from] culvert_netconf::Error),
    #[error("cannot read {}: {source}", path.display())]
    Sealed { path: PathBuf, source: SealError },
}

#[derive(Debug, Clone)]
pub struct ConfigStore {
    dir: PathBuf,
    sealer: Arc<dyn Sealer>,
}

impl ConfigStore {
    /// Opens (and creates, private) the store in `dir`, kept at rest this OS's way.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Self::open_with(dir, at_rest::platform_sealer())
    }

    /// Opens the store in `dir` with `sealer` deciding what its files hold.
    pub fn open_with(dir: impl Into<PathBuf>, sealer: Arc<dyn Sealer>) -> Result<Self, StoreError> {
        let dir = dir.into();
        at_rest::create_private_dir(&dir).map_err(io("creating a private directory at", &dir))?;
        Ok(Self { dir, sealer })
    }

    /// The stored tunnels, by name. Files that are not `NAME` + the sealer's extension
    /// with a valid name are left alone.
    pub fn list(&self) -> Result<Vec<TunnelName>, StoreError> {
        let extension = self.sealer.extension();
        let mut names: Vec<TunnelName> = std::fs::read_dir(&self.dir)
            .map_err(io("listing", &self.dir))?
            .flatten()
            .filter_map(|entry| {
                let file = entry.file_name().into_string().ok()?;
                TunnelName::new(file.strip_suffix(extension)?).ok()
            })
            .collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(names)
    }

    pub fn exists(&self, name: &TunnelName) -> bool {
        self.path(name).exists()
    }

    /// The stored text, wiped from memory when dropped (it holds the private key).
    pub fn load(&self, name: &TunnelName) -> Result<Zeroizing<String>, StoreError> {
        let path = self.path(name);
        let sealed = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound(name.as_str().into()),
            _ => StoreError::Io {
                what: "reading",
                path: path.clone(),
                source,
            },
        })?;
        self.sealer
            .unseal(&sealed)
            .map_err(|source| StoreError::Sealed { path, source })
    }

    /// Saves `text` as `name` after checking that it parses; the user's text is kept as
    /// written.
    pub fn save(&self, name: &TunnelName, text: &str) -> Result<(), StoreError> {
        culvert_config::parse(text).map_err(|errors| StoreError::Invalid {
            name: name.as_str().into(),
            errors,
        })?;
        let sealed = self
            .sealer
            .seal(text)
            .map_err(|source| StoreError::Sealed {
                path: self.path(name),
                source,
            })?;
        write_atomically(&self.path(name), &sealed, at_rest::FILE_MODE)?;
        Ok(())
    }

    /// Saves `text` as a new tunnel; refuses to overwrite one.
    pub fn create(&self, name: &TunnelName, text: &str) -> Result<(), StoreError> {
        if self.exists(name) {
            return Err(StoreError::AlreadyExists(name.as_str().into()));
        }
        self.save(name, text)
    }

    pub fn rename(&self, from: &TunnelName, to: &TunnelName) -> Result<(), StoreError> {
        if !self.exists(from) {
            return Err(StoreError::NotFound(from.as_str().into()));
        }
        if self.exists(to) {
            return Err(StoreError::AlreadyExists(to.as_str().into()));
        }
        std::fs::rename(self.path(from), self.path(to)).map_err(io("renaming", &self.path(from)))
    }

    pub fn delete(&self, name: &TunnelName) -> Result<(), StoreError> {
        let path = self.path(name);
        std::fs::remove_file(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound(name.as_str().into()),
            _ => StoreError::Io {
                what: "deleting",
                path: path.clone(),
                source,
            },
        })
    }

    fn path(&self, name: &TunnelName) -> PathBuf {
        self.dir
            .join(format!("{}{}", name.as_str(), self.sealer.extension()))
    }
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str) -> (ConfigStore, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("culvertd-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (ConfigStore::open(&dir).unwrap(), dir)
    }

    fn config() -> String {
        let key = culvert_config::PrivateKey::generate();
        let peer = culvert_config::PrivateKey::generate().public_key();
        format!(
            "# mine\n[Interface]\nPrivateKey = {}\nAddress = 10.0.0.2/32\n\n[Peer]\nPublicKey = {peer}\nAllowedIPs = 10.0.0.0/24\n",
            &*key.to_base64()
        )
    }

    #[cfg(unix)]
    #[test]
    fn save_load_rename_delete_with_secure_modes() {
        use std::os::unix::fs::PermissionsExt;
        let (store, dir) = store("cycle");
        let name = TunnelName::new("office").unwrap();
        let text = config();
        store.create(&name, &text).unwrap();
        assert_eq!(*store.load(&name).unwrap(), text, "kept exactly as written");
        let mode = std::fs::metadata(dir.join("office.conf"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(matches!(
            store.create(&name, &text),
            Err(StoreError::AlreadyExists(_))
        ));
        let home = TunnelName::new("home").unwrap();
        store.rename(&name, &home).unwrap();
        assert_eq!(store.list().unwrap(), vec![home.clone()]);
        assert!(matches!(store.load(&name), Err(StoreError::NotFound(_))));
        store.delete(&home).unwrap();
        assert!(store.list().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_invalid_config_is_refused_and_the_stored_one_kept() {
        let (store, dir) = store("invalid");
        let name = TunnelName::new("vpn").unwrap();
        let text = config();
        store.save(&name, &text).unwrap();
        let error = store.save(&name, "[Interface]\nAdress = 1\n").unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("line 2, column 1") && message.contains("Address"),
            "{message}"
        );
        assert_eq!(*store.load(&name).unwrap(), text);
        // Stray files are not tunnels.
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        std::fs::write(dir.join("much-too-long-name-for-wg.conf"), "x").unwrap();
        assert_eq!(store.list().unwrap(), vec![name]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Seals by flipping every bit behind a tag: reversible, and nothing like the text.
    #[derive(Debug)]
    struct Flipped;

    impl Sealer for Flipped {
        fn extension(&self) -> &'static str {
            ".conf.flipped"
        }

        fn seal(&self, text: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, SealError> {
            let flipped = text.bytes().map(|b| !b);
            Ok(zeroize::Zeroizing::new(
                b"FLIP".iter().copied().chain(flipped).collect(),
            ))
        }

        fn unseal(&self, sealed: &[u8]) -> Result<zeroize::Zeroizing<String>, SealError> {
            let body = sealed
                .strip_prefix(b"FLIP")
                .ok_or_else(|| SealError("not sealed by this test".into()))?;
            let text = String::from_utf8(body.iter().map(|b| !b).collect())
                .map_err(|_| SealError("not text".into()))?;
            Ok(zeroize::Zeroizing::new(text))
        }
    }

    #[test]
    fn the_store_reads_and_writes_only_through_its_sealer() {
        let dir =
            std::env::temp_dir().join(format!("culvertd-store-sealed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = ConfigStore::open_with(&dir, Arc::new(Flipped)).unwrap();
        let name = TunnelName::new("office").unwrap();
        let text = config();
        let key_line = text.lines().find(|l| l.starts_with("PrivateKey")).unwrap();
        store.create(&name, &text).unwrap();
        let on_disk = std::fs::read(dir.join("office.conf.flipped")).unwrap();
        assert!(on_disk.starts_with(b"FLIP"));
        assert!(
            !String::from_utf8_lossy(&on_disk).contains(key_line),
            "the key is not stored as text"
        );
        assert_eq!(*store.load(&name).unwrap(), text);
        // A plain config dropped beside sealed ones is not one of them.
        std::fs::write(dir.join("plain.conf"), &text).unwrap();
        assert_eq!(store.list().unwrap(), vec![name.clone()]);
        let home = TunnelName::new("home").unwrap();
        store.rename(&name, &home).unwrap();
        assert!(dir.join("home.conf.flipped").exists());
        assert_eq!(*store.load(&home).unwrap(), text);
        // A file that does not unseal is reported by path, with the sealer's reason.
        let broken = TunnelName::new("broken").unwrap();
        std::fs::write(dir.join("broken.conf.flipped"), b"garbage").unwrap();
        let error = store.load(&broken).unwrap_err().to_string();
        assert!(
            error.contains("broken.conf.flipped") && error.contains("not sealed by this test"),
            "{error}"
        );
        store.delete(&home).unwrap();
        assert_eq!(store.list().unwrap(), vec![broken]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
