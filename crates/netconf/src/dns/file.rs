//! The last resort: `/etc/resolv.conf` rewritten, the original (a file or a symlink)
//! kept beside the journal and put back exactly.

use super::{Dns, render};
use crate::Error;
use crate::journal::{Undo, write_atomically};
use std::path::{Path, PathBuf};

const BACKUP_SUFFIX: &str = ".resolv.conf";

/// The interface whose backup of the original is in `backup_dir`, if it is not
/// `interface`: that tunnel's DNS is in the file now.
fn holder_other_than(backup_dir: &Path, interface: &str) -> Option<String> {
    std::fs::read_dir(backup_dir)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(BACKUP_SUFFIX).map(str::to_owned)
        })
        .find(|holder| holder != interface)
}

/// Saves the original of `resolv_conf` to `backup_dir` and returns the undo for it; the
/// caller journals it before calling [`install`].
pub(crate) fn backup(
    resolv_conf: &Path,
    backup_dir: &Path,
    interface: &str,
) -> Result<Undo, Error> {
    // A second tunnel would back up the first one's file and, taken down in the other
    // order, leave its dead nameservers behind: one tunnel at a time owns the file.
    if let Some(holder) = holder_other_than(backup_dir, interface) {
        return Err(Error::Resolver(format!(
            "{} holds the DNS of the active tunnel `{holder}`; with no resolver manager \
             (systemd-resolved or resolvconf) only one tunnel at a time can set DNS: take \
             `{holder}` down first, or remove DNS = from this tunnel",
            resolv_conf.display()
        )));
    }
    let backup = backup_dir.join(format!("{interface}{BACKUP_SUFFIX}"));
    let symlink_target = std::fs::read_link(resolv_conf).ok();
    let original = std::fs::read(resolv_conf).unwrap_or_default();
    write_atomically(&backup, &original, 0o600)?;
    Ok(Undo::RestoreFile {
        path: resolv_conf.to_owned(),
        backup,
        symlink_target,
    })
}

pub(crate) fn install(resolv_conf: &Path, interface: &str, dns: &Dns) -> Result<(), Error> {
    // A symlink is replaced by a file (not written through), so its target is untouched.
    if std::fs::symlink_metadata(resolv_conf).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(resolv_conf)
            .map_err(Error::io("replacing the resolv.conf symlink"))?;
    }
    write_atomically(resolv_conf, render(interface, dns).as_bytes(), 0o644)
}

pub(crate) fn restore(
    path: &Path,
    backup: &Path,
    symlink_target: Option<&PathBuf>,
) -> Result<(), Error> {
    match symlink_target {
        Some(target) => {
            let _ = std::fs::remove_file(path);
            std::os::unix::fs::symlink(target, path)
                .map_err(Error::io("restoring the resolv.conf symlink"))?;
        }
        None => match std::fs::read(backup) {
            Ok(original) => write_atomically(path, &original, 0o644)?,
            // Restored already: idempotent.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(Error::Io {
                    what: "reading the resolv.conf backup".into(),
                    source: e,
                });
            }
        },
    }
    let _ = std::fs::remove_file(backup);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_and_a_symlink_come_back_exactly() {
        let dir = std::env::temp_dir().join(format!("culvert-dns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let dns = Dns {
            servers: vec!["10.0.0.53".parse().unwrap()],
            search: vec!["corp.example".into()],
        };

        let file = dir.join("resolv.conf");
        std::fs::write(&file, "nameserver 192.0.2.53\noptions edns0\n").unwrap();
        let Undo::RestoreFile {
            backup,
            symlink_target,
            ..
        } = super::backup(&file, &dir, "wg0").unwrap()
        else {
            panic!()
        };
        install(&file, "wg0", &dns).unwrap();
        let written = std::fs::read_to_string(&file).unwrap();
        assert!(written.contains("nameserver 10.0.0.53\nsearch corp.example\n"));
        restore(&file, &backup, symlink_target.as_ref()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "nameserver 192.0.2.53\noptions edns0\n"
        );
        restore(&file, &backup, symlink_target.as_ref()).unwrap();

        let target = dir.join("stub-resolv.conf");
        std::fs::write(&target, "nameserver 127.0.0.53\n").unwrap();
        let link = dir.join("linked.conf");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let Undo::RestoreFile {
            backup,
            symlink_target,
            ..
        } = super::backup(&link, &dir, "wg1").unwrap()
        else {
            panic!()
        };
        install(&link, "wg1", &dns).unwrap();
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "nameserver 127.0.0.53\n",
            "the target is untouched"
        );
        restore(&link, &backup, symlink_target.as_ref()).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), target);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_tunnel_cannot_take_the_file_from_the_first() {
        let dir = std::env::temp_dir().join(format!("culvert-dns-two-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("resolv.conf");
        std::fs::write(&file, "nameserver 192.0.2.53\n").unwrap();
        let dns = Dns {
            servers: vec!["10.0.0.53".parse().unwrap()],
            search: Vec::new(),
        };
        let Undo::RestoreFile {
            backup,
            symlink_target,
            ..
        } = super::backup(&file, &dir, "first").unwrap()
        else {
            panic!()
        };
        install(&file, "first", &dns).unwrap();
        let refused = super::backup(&file, &dir, "second")
            .unwrap_err()
            .to_string();
        assert!(refused.contains("active tunnel `first`"), "{refused}");
        assert!(
            std::fs::read_to_string(&file)
                .unwrap()
                .contains("10.0.0.53")
        );

        restore(&file, &backup, symlink_target.as_ref()).unwrap();
        assert!(
            super::backup(&file, &dir, "second").is_ok(),
            "free once the first is down"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
