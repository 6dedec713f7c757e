//! The config store: one `NAME.conf` per tunnel, 0600 in a 0700 directory, every write
//! atomic (temp file, fsync, rename, fsync the directory), so a crash never leaves a
//! truncated or lost config. Names follow wg-quick's rule.

use culvert_config::{ParseErrors, TunnelName};
use culvert_netconf::write_atomically;
use std::path::{Path, PathBuf};

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
}

#[derive(Debug, Clone)]
pub struct ConfigStore {
    dir: PathBuf,
}

impl ConfigStore {
    /// Opens (and creates, 0700) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let dir = dir.into();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io("creating", &dir))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("securing", &dir))?;
        Ok(Self { dir })
    }

    /// The stored tunnels, by name. Files that are not `NAME.conf` with a valid name are
    /// left alone.
    pub fn list(&self) -> Result<Vec<TunnelName>, StoreError> {
        let mut names: Vec<TunnelName> = std::fs::read_dir(&self.dir)
            .map_err(io("listing", &self.dir))?
            .flatten()
            .filter_map(|entry| {
                let file = entry.file_name().into_string().ok()?;
                TunnelName::new(file.strip_suffix(".conf")?).ok()
            })
            .collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(names)
    }

    pub fn exists(&self, name: &TunnelName) -> bool {
        self.path(name).exists()
    }

    pub fn load(&self, name: &TunnelName) -> Result<String, StoreError> {
        let path = self.path(name);
        std::fs::read_to_string(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound(name.as_str().into()),
            _ => StoreError::Io {
                what: "reading",
                path,
                source,
            },
        })
    }

    /// Saves `text` as `name` after checking that it parses; the user's text is kept as
    /// written.
    pub fn save(&self, name: &TunnelName, text: &str) -> Result<(), StoreError> {
        culvert_config::parse(text).map_err(|errors| StoreError::Invalid {
            name: name.as_str().into(),
            errors,
        })?;
        write_atomically(&self.path(name), text.as_bytes(), 0o600)?;
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
        self.dir.join(format!("{}.conf", name.as_str()))
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
    use std::os::unix::fs::PermissionsExt;

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

    #[test]
    fn save_load_rename_delete_with_secure_modes() {
        let (store, dir) = store("cycle");
        let name = TunnelName::new("office").unwrap();
        let text = config();
        store.create(&name, &text).unwrap();
        assert_eq!(store.load(&name).unwrap(), text, "kept exactly as written");
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
        assert_eq!(store.load(&name).unwrap(), text);
        // Stray files are not tunnels.
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        std::fs::write(dir.join("much-too-long-name-for-wg.conf"), "x").unwrap();
        assert_eq!(store.list().unwrap(), vec![name]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
