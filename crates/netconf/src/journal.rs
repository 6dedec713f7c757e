//! The undo journal: every change is recorded on disk before it is made, so that after a
//! crash the next start can undo whatever was applied. Every undo is idempotent, and a
//! line cut short by the crash is ignored (its change never happened).

use crate::Error;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One way to take back one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "undo", rename_all = "snake_case")]
pub enum Undo {
    /// Routes and addresses on the tunnel go with its interface; these undo them while it
    /// still exists (a mode switch) and are harmless afterwards.
    DeleteRoute {
        interface: String,
        destination: ipnet::IpNet,
        table: u32,
    },
    DeleteRules {
        v6: bool,
        priority: u32,
    },
    DeleteFirewallTable {
        name: String,
    },
    RestoreFile {
        path: PathBuf,
        backup: PathBuf,
        symlink_target: Option<PathBuf>,
    },
    RestoreSysctl {
        path: PathBuf,
        value: String,
    },
    /// systemd-resolved's per-link settings (`RevertLink`), on the bus they were made on
    /// (None: the system bus). Only while `interface` still has `index`: a vanished link
    /// took its settings with it, and a reused index belongs to someone else.
    RevertResolvedLink {
        bus: Option<String>,
        interface: String,
        index: u32,
    },
    /// A record added with `resolvconf -a`.
    DeleteResolvconfRecord {
        program: PathBuf,
        record: String,
        openresolv: bool,
    },
    /// macOS: a route added with `route add` (through `interface`, or via `gateway`).
    DeleteSystemRoute {
        destination: ipnet::IpNet,
        interface: Option<String>,
        gateway: Option<IpAddr>,
    },
    /// macOS: a key of the dynamic store set with `scutil`.
    RemoveScutilKey {
        key: String,
    },
    /// macOS: the rules of a pf anchor.
    FlushPfAnchor {
        anchor: String,
    },
    /// macOS: the reference `pfctl -E` took on pf being enabled.
    ReleasePfToken {
        token: String,
    },
    /// Windows: a route made with `CreateIpForwardEntry2`.
    DeleteIpForwardEntry {
        luid: u64,
        destination: ipnet::IpNet,
        next_hop: Option<IpAddr>,
    },
    /// Windows: the DNS servers and search list of an interface.
    ClearInterfaceDns {
        guid: String,
    },
    /// Windows: the kill switch's persistent WFP objects, which outlive the service as
    /// the nftables table does: every filter in `sublayer`, then the sublayer, then
    /// `provider` (GUIDs as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
    DeleteWfpObjects {
        provider: String,
        sublayer: String,
    },
    /// A marker that names what the journal was for, for the log.
    Tunnel {
        interface: String,
        dns: Vec<IpAddr>,
    },
}

#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    entries: Vec<Undo>,
}

impl Journal {
    pub fn path_for(directory: &Path, interface: &str) -> PathBuf {
        directory.join(format!("{interface}.journal"))
    }

    /// Starts a journal; one left by an earlier run must be recovered first.
    pub fn create(directory: &Path, interface: &str) -> Result<Self, Error> {
        std::fs::create_dir_all(directory).map_err(Error::io("journal directory"))?;
        let path = Self::path_for(directory, interface);
        if path.exists() {
            return Err(Error::NeedsRecovery {
                path,
                reason: "its journal is still there".into(),
            });
        }
        let journal = Self {
            path,
            entries: Vec::new(),
        };
        journal.rewrite()?;
        Ok(journal)
    }

    /// Reads a journal a crashed run left. None if there is none.
    pub fn open(path: &Path) -> Result<Option<Self>, Error> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Io {
                    what: "reading the journal".into(),
                    source: e,
                });
            }
        };
        let entries = text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        Ok(Some(Self {
            path: path.to_owned(),
            entries,
        }))
    }

    pub fn entries(&self) -> &[Undo] {
        &self.entries
    }

    /// Appends `undo` and forces it to disk; only then may its change be made.
    pub fn record(&mut self, undo: Undo) -> Result<(), Error> {
        let mut line = serde_json::to_string(&undo).expect("journal entries serialise");
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(Error::io("journal"))?;
        file.write_all(line.as_bytes())
            .map_err(Error::io("journal"))?;
        file.sync_data().map_err(Error::io("journal"))?;
        self.entries.push(undo);
        Ok(())
    }

    /// Drops entries whose changes were already taken back (a mode switch), rewriting
    /// the file atomically so it does not grow with every switch.
    pub fn forget(&mut self, done: impl Fn(&Undo) -> bool) -> Result<(), Error> {
        self.entries.retain(|entry| !done(entry));
        self.rewrite()
    }

    /// Undoes everything, newest first, then removes the journal. An undo that fails
    /// does not stop the others; the failed ones stay journaled, in their order, for
    /// the next recovery, and the first failure is reported.
    pub fn undo_all(
        mut self,
        apply: &mut dyn FnMut(&Undo) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut first_error = None;
        let mut failed_newest_first = Vec::new();
        while let Some(undo) = self.entries.pop() {
            if let Err(error) = apply(&undo) {
                tracing::warn!(?undo, %error, "undo failed");
                first_error.get_or_insert(error);
                failed_newest_first.push(undo);
            }
        }
        if let Some(error) = first_error {
            failed_newest_first.reverse();
            self.entries = failed_newest_first;
            self.rewrite()?;
            return Err(error);
        }
        std::fs::remove_file(&self.path).map_err(Error::io("removing the journal"))
    }

    fn rewrite(&self) -> Result<(), Error> {
        let mut text = String::new();
        for entry in &self.entries {
            text.push_str(&serde_json::to_string(entry).expect("journal entries serialise"));
            text.push('\n');
        }
        write_atomically(&self.path, text.as_bytes(), 0o600)
    }
}

/// What a recovery did, journal by journal.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Interfaces whose changes were all undone.
    pub undone: Vec<String>,
    /// Interfaces with changes that could not be undone (still journaled, for the next
    /// try), and why.
    pub failed: Vec<(String, Error)>,
}

/// Undoes every journal left in `directory` by runs that crashed, or only `only`'s.
/// Each journal is recovered on its own: one that keeps failing holds up no other.
pub(crate) fn recover_all(
    directory: &Path,
    only: Option<&str>,
    perform: &mut dyn FnMut(&Undo) -> Result<(), Error>,
) -> Result<Recovery, Error> {
    let mut recovery = Recovery::default();
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(recovery),
        Err(e) => {
            return Err(Error::Io {
                what: "reading the journal directory".into(),
                source: e,
            });
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "journal") {
            continue;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if only.is_some_and(|only| only != name) {
            continue;
        }
        match Journal::open(&path)
            .and_then(|journal| journal.map_or(Ok(()), |j| j.undo_all(perform)))
        {
            Ok(()) => {
                tracing::info!(interface = %name, "network changes of a crashed run undone");
                recovery.undone.push(name);
            }
            Err(error) => {
                tracing::error!(interface = %name, %error, "network changes of a crashed run could not all be undone");
                recovery.failed.push((name, error));
            }
        }
    }
    Ok(recovery)
}

/// Temp file, fsync, rename, fsync the directory: the file is either old or new, never
/// truncated. The file gets `mode` (0600 for anything holding keys).
pub fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let directory = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("culvert");
    let temp = directory.join(format!(".{name}.tmp"));
    // A temp file a crash left behind keeps its old mode if reused: start afresh.
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    // Windows: the file inherits the directory's ACL (the service's own, under
    // %ProgramData%), which is what protects it there.
    #[cfg(not(unix))]
    let _ = mode;
    // Errors name the file meant, not the temp file: "writing /etc/culvert/wg0.conf".
    let writing = format!("writing {}", path.display());
    let mut file = options.open(&temp).map_err(Error::io(&writing))?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if let Err(e) = written {
        // A full disk must not leave a half-written temp file taking what space is left.
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io(&writing)(e));
    }
    std::fs::rename(&temp, path).map_err(Error::io(&writing))?;
    if let Ok(dir) = std::fs::File::open(directory) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("culvert-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn recorded_undos_survive_and_run_newest_first_once() {
        let dir = temp_dir("order");
        let mut journal = Journal::create(&dir, "wg9").unwrap();
        assert!(matches!(
            Journal::create(&dir, "wg9"),
            Err(Error::NeedsRecovery { .. })
        ));
        journal
            .record(Undo::DeleteRules {
                v6: false,
                priority: 1,
            })
            .unwrap();
        journal
            .record(Undo::DeleteFirewallTable { name: "t".into() })
            .unwrap();
        drop(journal);
        // A crash cut the last line short.
        let path = Journal::path_for(&dir, "wg9");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"undo\":\"dele")
            .unwrap();
        let reopened = Journal::open(&path).unwrap().unwrap();
        assert_eq!(reopened.entries().len(), 2);
        let mut seen = Vec::new();
        reopened
            .undo_all(&mut |u| {
                seen.push(u.clone());
                Ok(())
            })
            .unwrap();
        assert_eq!(seen[0], Undo::DeleteFirewallTable { name: "t".into() });
        assert!(!path.exists());
        assert!(Journal::open(&path).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_windows_kill_switch_undo_names_its_objects_in_the_journal() {
        let undo = Undo::DeleteWfpObjects {
            provider: "63756c76-0000-4000-8000-000000000001".into(),
            sublayer: "63756c76-0000-4000-8000-000000000002".into(),
        };
        let line = serde_json::to_string(&undo).unwrap();
        assert_eq!(
            line,
            "{\"undo\":\"delete_wfp_objects\",\"provider\":\"63756c76-0000-4000-8000-000000000001\",\
             \"sublayer\":\"63756c76-0000-4000-8000-000000000002\"}"
        );
        assert_eq!(serde_json::from_str::<Undo>(&line).unwrap(), undo);
    }

    #[test]
    fn a_failed_undo_is_kept_for_the_next_recovery() {
        let dir = temp_dir("fail");
        let mut journal = Journal::create(&dir, "wg8").unwrap();
        journal
            .record(Undo::DeleteRules {
                v6: true,
                priority: 7,
            })
            .unwrap();
        let result = journal.undo_all(&mut |_| Err(Error::NoSuchInterface("x".into())));
        assert!(result.is_err());
        let path = Journal::path_for(&dir, "wg8");
        assert_eq!(Journal::open(&path).unwrap().unwrap().entries().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn rules(priority: u32) -> Undo {
        Undo::DeleteRules {
            v6: false,
            priority,
        }
    }

    #[test]
    fn failed_undos_stay_in_their_order_and_the_rest_are_undone() {
        let dir = temp_dir("kept-order");
        let mut journal = Journal::create(&dir, "wg9").unwrap();
        for priority in 1..=4 {
            journal.record(rules(priority)).unwrap();
        }
        let mut tried = Vec::new();
        let result = journal.undo_all(&mut |undo| {
            tried.push(undo.clone());
            match undo {
                Undo::DeleteRules {
                    priority: 2 | 3, ..
                } => Err(Error::NoSuchInterface("x".into())),
                _ => Ok(()),
            }
        });
        assert!(result.is_err());
        assert_eq!(
            tried,
            [rules(4), rules(3), rules(2), rules(1)],
            "newest first, all tried"
        );
        let kept = Journal::open(&Journal::path_for(&dir, "wg9"))
            .unwrap()
            .unwrap();
        assert_eq!(
            kept.entries(),
            [rules(2), rules(3)],
            "kept as recorded, oldest first"
        );
        let mut retried = Vec::new();
        kept.undo_all(&mut |undo| {
            retried.push(undo.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(retried, [rules(3), rules(2)]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_journal_that_keeps_failing_holds_up_no_other() {
        let dir = temp_dir("independent");
        for (interface, priority) in [("wga", 1), ("wgb", 2), ("wgc", 3)] {
            Journal::create(&dir, interface)
                .unwrap()
                .record(rules(priority))
                .unwrap();
        }
        let mut perform = |undo: &Undo| match undo {
            Undo::DeleteRules { priority: 2, .. } => Err(Error::NoSuchInterface("wgb".into())),
            _ => Ok(()),
        };
        let mut recovery = recover_all(&dir, None, &mut perform).unwrap();
        recovery.undone.sort();
        assert_eq!(recovery.undone, ["wga", "wgc"]);
        assert_eq!(recovery.failed.len(), 1);
        assert_eq!(recovery.failed[0].0, "wgb");
        assert!(Journal::path_for(&dir, "wgb").exists());
        assert!(!Journal::path_for(&dir, "wga").exists());

        // Asked for one interface, only its journal is touched.
        Journal::create(&dir, "wgd")
            .unwrap()
            .record(rules(4))
            .unwrap();
        let only = recover_all(&dir, Some("wgb"), &mut |_| Ok(())).unwrap();
        assert_eq!(only.undone, ["wgb"]);
        assert!(only.failed.is_empty());
        assert!(Journal::path_for(&dir, "wgd").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
