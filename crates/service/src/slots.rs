//! Who may hold the service's connections. Each costs a thread and a descriptor, so
//! there is a ceiling; under it, no one user may take more than a share, and members
//! of the group never the last few, so root can always get in to put things right. A
//! client that stops talking is let go by the server's watchdog.

use culvert_ipc::{Grant, IpcError, IpcErrorKind, PeerIdentity};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many connections the service holds, and for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotLimits {
    /// Connections at once, root's included; more are refused as they arrive.
    pub total: usize,
    /// Of those, the most that members of the group (everyone but root) may hold.
    pub members: usize,
    /// The most that one user may hold.
    pub per_user: usize,
}

impl Default for SlotLimits {
    fn default() -> Self {
        SlotLimits {
            total: 64,
            members: 56,
            per_user: 16,
        }
    }
}

/// The connections members hold now, in all and per user.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    held: Mutex<Held>,
}

#[derive(Debug, Default)]
struct Held {
    members: usize,
    /// By uid; on Windows, which reports none, all callers the pipe admitted share one.
    by_user: HashMap<Option<u32>, usize>,
}

/// One connection's place, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    /// None for root, whose connections only the overall ceiling bounds.
    member: Option<(Arc<Slots>, Option<u32>)>,
}

impl Slots {
    /// A place for a connection from `identity`, or why there is none.
    pub(crate) fn take(
        self: &Arc<Self>,
        identity: &PeerIdentity,
        limits: SlotLimits,
    ) -> Result<Slot, IpcError> {
        if identity.grant == Grant::Root {
            return Ok(Slot { member: None });
        }
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let mine = held.by_user.get(&identity.uid).copied().unwrap_or(0);
        if mine >= limits.per_user {
            let who = identity
                .uid
                .map_or_else(|| "this user".to_owned(), |uid| format!("uid {uid}"));
            return Err(IpcError::new(
                IpcErrorKind::Busy,
                format!(
                    "{who} has {mine} connections to the service open already, the most one \
                     user may; close some (a forgotten `culvert log -f`?)"
                ),
            ));
        }
        if held.members >= limits.members {
            return Err(IpcError::new(
                IpcErrorKind::Busy,
                "too many clients are connected; try again later (root still can)",
            ));
        }
        held.members += 1;
        *held.by_user.entry(identity.uid).or_default() += 1;
        Ok(Slot {
            member: Some((Arc::clone(self), identity.uid)),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some((slots, uid)) = self.member.take() else {
            return;
        };
        let mut held = slots.held.lock().unwrap_or_else(|e| e.into_inner());
        held.members -= 1;
        if let Some(count) = held.by_user.get_mut(&uid) {
            *count -= 1;
            if *count == 0 {
                held.by_user.remove(&uid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(uid: u32) -> PeerIdentity {
        PeerIdentity {
            uid: Some(uid),
            pid: None,
            grant: Grant::Group {
                name: "culvert".into(),
                gid: 999,
            },
        }
    }

    const ROOT: PeerIdentity = PeerIdentity {
        uid: Some(0),
        pid: None,
        grant: Grant::Root,
    };

    const LIMITS: SlotLimits = SlotLimits {
        total: 8,
        members: 6,
        per_user: 4,
    };

    #[test]
    fn one_user_cannot_take_every_slot_and_gets_them_back() {
        let slots = Arc::new(Slots::default());
        let mut held: Vec<Slot> = (0..4)
            .map(|_| slots.take(&member(1000), LIMITS).unwrap())
            .collect();
        let refused = slots.take(&member(1000), LIMITS).unwrap_err();
        assert_eq!(refused.kind, IpcErrorKind::Busy);
        assert!(
            refused.message.contains("uid 1000 has 4 connections"),
            "{refused}"
        );
        // Another user still gets in; a slot given back is free again.
        let other = slots.take(&member(1001), LIMITS).unwrap();
        held.pop();
        held.push(slots.take(&member(1000), LIMITS).unwrap());
        drop(other);
    }

    #[test]
    fn members_never_take_the_slots_kept_for_root() {
        let slots = Arc::new(Slots::default());
        let mut held = Vec::new();
        for uid in [1000, 1000, 1000, 1001, 1001, 1001] {
            held.push(slots.take(&member(uid), LIMITS).unwrap());
        }
        let refused = slots.take(&member(1002), LIMITS).unwrap_err();
        assert!(refused.message.contains("root still can"), "{refused}");
        for _ in 0..LIMITS.total {
            held.push(slots.take(&ROOT, LIMITS).unwrap());
        }
        held.clear();
        assert_eq!(
            *slots
                .held
                .lock()
                .unwrap()
                .by_user
                .get(&Some(1000))
                .unwrap_or(&0),
            0
        );
        assert_eq!(slots.held.lock().unwrap().members, 0);
    }
}
