//! Who may use the service: the rule, as a pure function over credentials.
//!
//! On Unix the caller must be root (uid 0) or have the service group (`culvert`)
//! among its group ids: its primary gid or one of its supplementary groups. The
//! credentials are those of the connecting process as the kernel recorded them at
//! `connect()` (see `transport/unix.rs`), not the group database: they are what the
//! kernel also used to let the process open the 0660 root:culvert socket, so the two
//! checks agree, and a user added to the group is admitted after a new login, as the
//! error text says, not before. On Windows the pipe's security descriptor does the
//! check (see `transport/windows.rs`).

use std::fmt;

use crate::error::{IpcError, IpcErrorKind};

/// A Unix caller's credentials, as the kernel reports them for a socket peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Effective uid.
    pub uid: u32,
    /// Effective (primary) gid.
    pub gid: u32,
    /// Supplementary groups; may or may not repeat `gid`.
    pub groups: Vec<u32>,
    /// The process, when the OS reports it; for logs only (it may have exited).
    pub pid: Option<u32>,
}

/// Why a caller was let in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// uid 0.
    Root,
    /// A member of the service group (by primary or supplementary gid).
    Group { name: String, gid: u32 },
    /// Windows: the pipe's security descriptor admitted the caller (SYSTEM,
    /// Administrators or the operators group).
    PipeAcl,
}

/// An authorised caller, for the service's log and per-request decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The Unix uid; `None` on Windows.
    pub uid: Option<u32>,
    pub pid: Option<u32>,
    pub grant: Grant,
}

/// Whether `creds` may use the service whose group is `group`, which has gid
/// `group_gid` (`None` when no such group exists: then only root is admitted).
pub fn decide(
    creds: &Credentials,
    group: &str,
    group_gid: Option<u32>,
) -> Result<PeerIdentity, IpcError> {
    let identity = |grant| PeerIdentity {
        uid: Some(creds.uid),
        pid: creds.pid,
        grant,
    };
    if creds.uid == 0 {
        return Ok(identity(Grant::Root));
    }
    let Some(gid) = group_gid else {
        return Err(IpcError::new(
            IpcErrorKind::PermissionDenied,
            format!(
                "uid {} is not root, and group `{group}` does not exist on this system, so \
                 only root may use culvertd; create it (sudo groupadd --system {group}), add \
                 the user (sudo usermod -aG {group} $USER), restart culvertd and log in again",
                creds.uid
            ),
        ));
    };
    if creds.gid == gid || creds.groups.contains(&gid) {
        return Ok(identity(Grant::Group {
            name: group.to_owned(),
            gid,
        }));
    }
    Err(IpcError::new(
        IpcErrorKind::PermissionDenied,
        format!(
            "uid {} is not root and its process is not in group `{group}` (gid {gid}); \
             add the user to the group (sudo usermod -aG {group} $USER) and log in again: \
             a new group only applies to new logins",
            creds.uid
        ),
    ))
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.uid {
            Some(uid) => write!(f, "uid {uid}")?,
            None => f.write_str("pipe client")?,
        }
        if let Some(pid) = self.pid {
            write!(f, " (pid {pid})")?;
        }
        match &self.grant {
            Grant::Root => f.write_str(", root"),
            Grant::Group { name, .. } => write!(f, ", member of group {name}"),
            Grant::PipeAcl => f.write_str(", admitted by the pipe's ACL"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(uid: u32, gid: u32, groups: &[u32]) -> Credentials {
        Credentials {
            uid,
            gid,
            groups: groups.to_vec(),
            pid: Some(42),
        }
    }

    #[test]
    fn root_is_admitted_even_without_the_group() {
        assert_eq!(
            decide(&creds(0, 0, &[]), "culvert", None).unwrap().grant,
            Grant::Root
        );
        assert_eq!(
            decide(&creds(0, 5, &[]), "culvert", Some(990))
                .unwrap()
                .grant,
            Grant::Root
        );
    }

    #[test]
    fn supplementary_or_primary_group_admits() {
        let by_supplementary = decide(&creds(1000, 1000, &[27, 990]), "culvert", Some(990));
        assert_eq!(
            by_supplementary.unwrap().grant,
            Grant::Group {
                name: "culvert".into(),
                gid: 990
            }
        );
        let by_primary = decide(&creds(1000, 990, &[]), "culvert", Some(990)).unwrap();
        assert_eq!(by_primary.uid, Some(1000));
        assert_eq!(
            by_primary.to_string(),
            "uid 1000 (pid 42), member of group culvert"
        );
    }

    #[test]
    fn others_are_refused_with_actionable_text() {
        let e = decide(&creds(1000, 1000, &[27, 100]), "culvert", Some(990)).unwrap_err();
        assert_eq!(e.kind, IpcErrorKind::PermissionDenied);
        assert!(e.message.contains("not in group `culvert`"), "{e}");
        assert!(e.message.contains("usermod -aG culvert"), "{e}");
        assert!(e.message.contains("log in again"), "{e}");
        // A uid that happens to equal the group's gid is not membership.
        assert!(decide(&creds(990, 1000, &[]), "culvert", Some(990)).is_err());
    }

    #[test]
    fn missing_group_admits_only_root() {
        let e = decide(&creds(1000, 1000, &[990]), "culvert", None).unwrap_err();
        assert_eq!(e.kind, IpcErrorKind::PermissionDenied);
        assert!(e.message.contains("does not exist"), "{e}");
    }
}
