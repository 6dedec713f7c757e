//! What the tray and the notifications need from the service's events, kept apart
//! from Tauri so it is tested on its own: each tunnel's state and whether its peers
//! are really talking (a recent handshake), and the moments worth a notification.

use std::collections::BTreeMap;

use culvert_ipc::{Event, TunnelState, TunnelSummary};

/// A handshake older than this means the peer is gone: WireGuard rekeys every two
/// minutes while traffic flows, and gives a session up after three.
pub const HANDSHAKE_FRESH_SECS: u64 = 180;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The first handshake after activation.
    Connected { name: String },
    /// Activation failed or the running tunnel broke.
    Failed { name: String, message: String },
    /// A connected tunnel has had no handshake for [`HANDSHAKE_FRESH_SECS`].
    Dropped { name: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrayState {
    Connected,
    Disconnected,
    Error,
}

#[derive(Clone, Debug)]
struct Watched {
    state: TunnelState,
    /// A handshake is fresh: the tunnel carries traffic. `None` until the first
    /// statistics of a tunnel that was already active when the app first saw it (at
    /// start, or after the service came back): whatever they say is not news.
    talking: Option<bool>,
}

#[derive(Debug, Default)]
pub struct Watcher {
    tunnels: BTreeMap<String, Watched>,
}

impl Watcher {
    /// The service's tunnel list, after a (re)connection or a `tunnels_changed`.
    pub fn set_tunnels(&mut self, list: &[TunnelSummary]) {
        let mut next = BTreeMap::new();
        for tunnel in list {
            let name = tunnel.name.as_str().to_owned();
            let talking = match self.tunnels.get(&name) {
                _ if tunnel.state != TunnelState::Active => Some(false),
                Some(watched) => watched.talking,
                None => None,
            };
            next.insert(
                name,
                Watched {
                    state: tunnel.state.clone(),
                    talking,
                },
            );
        }
        self.tunnels = next;
    }

    /// Takes in one event; returns what deserves a notification.
    pub fn on_event(&mut self, event: &Event, now_unix: u64) -> Vec<Notice> {
        match event {
            Event::TunnelState { name, state } => {
                let name = name.as_str().to_owned();
                let watched = self.tunnels.entry(name.clone()).or_insert(Watched {
                    state: TunnelState::Inactive,
                    talking: Some(false),
                });
                let was_error = matches!(watched.state, TunnelState::Error { .. });
                watched.state = state.clone();
                if *state != TunnelState::Active {
                    watched.talking = Some(false);
                }
                match state {
                    TunnelState::Error { message } if !was_error => vec![Notice::Failed {
                        name,
                        message: message.clone(),
                    }],
                    _ => Vec::new(),
                }
            }
            Event::Stats { name, peers } => {
                let Some(watched) = self.tunnels.get_mut(name.as_str()) else {
                    return Vec::new();
                };
                let newest = peers.iter().filter_map(|p| p.latest_handshake_unix).max();
                let fresh =
                    newest.is_some_and(|at| now_unix.saturating_sub(at) < HANDSHAKE_FRESH_SECS);
                let name = name.as_str().to_owned();
                let now_talking = fresh && watched.state == TunnelState::Active;
                let before = watched.talking.replace(now_talking);
                match (before, now_talking) {
                    (Some(false), true) => vec![Notice::Connected { name }],
                    (Some(true), false) => vec![Notice::Dropped { name }],
                    _ => Vec::new(),
                }
            }
            Event::TunnelsChanged | Event::Log(_) => Vec::new(),
        }
    }

    pub fn tray_state(&self) -> TrayState {
        let states = || self.tunnels.values().map(|w| &w.state);
        if states().any(|s| matches!(s, TunnelState::Error { .. })) {
            TrayState::Error
        } else if states().any(|s| *s == TunnelState::Active) {
            TrayState::Connected
        } else {
            TrayState::Disconnected
        }
    }

    /// Each tunnel's name and whether it is on (active or on its way).
    pub fn toggles(&self) -> Vec<(String, bool)> {
        self.tunnels
            .iter()
            .map(|(name, w)| {
                let on = matches!(w.state, TunnelState::Active | TunnelState::Activating);
                (name.clone(), on)
            })
            .collect()
    }

    /// How many tunnels are active.
    pub fn active_count(&self) -> usize {
        self.tunnels
            .values()
            .filter(|w| w.state == TunnelState::Active)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use culvert_ipc::{PeerStats, RoutingMode, TunnelName};

    use super::*;

    fn name(n: &str) -> TunnelName {
        TunnelName::new(n).unwrap()
    }

    fn state(n: &str, state: TunnelState) -> Event {
        Event::TunnelState {
            name: name(n),
            state,
        }
    }

    fn summary(n: &str, state: TunnelState) -> TunnelSummary {
        TunnelSummary {
            name: name(n),
            state,
            routing_mode: RoutingMode::Split,
            kill_switch: false,
        }
    }

    fn stats(n: &str, handshake: Option<u64>) -> Event {
        let peer = PeerStats {
            public_key: "k".to_owned(),
            endpoint: None,
            latest_handshake_unix: handshake,
            rx_bytes: 0,
            tx_bytes: 0,
        };
        Event::Stats {
            name: name(n),
            peers: vec![peer],
        }
    }

    #[test]
    fn connected_once_on_the_first_handshake_then_dropped_when_it_goes_stale() {
        let mut w = Watcher::default();
        assert!(
            w.on_event(&state("office", TunnelState::Activating), 1000)
                .is_empty()
        );
        assert!(
            w.on_event(&state("office", TunnelState::Active), 1000)
                .is_empty()
        );
        assert_eq!(w.tray_state(), TrayState::Connected);
        assert!(w.on_event(&stats("office", None), 1001).is_empty());
        let connected = Notice::Connected {
            name: "office".to_owned(),
        };
        assert_eq!(
            w.on_event(&stats("office", Some(1001)), 1002),
            vec![connected]
        );
        assert!(
            w.on_event(&stats("office", Some(1001)), 1003).is_empty(),
            "only once"
        );
        assert!(
            w.on_event(&stats("office", Some(1001)), 1001 + 179)
                .is_empty()
        );
        let dropped = Notice::Dropped {
            name: "office".to_owned(),
        };
        assert_eq!(
            w.on_event(&stats("office", Some(1001)), 1001 + 180),
            vec![dropped]
        );
        assert!(
            w.on_event(&stats("office", Some(1001)), 1001 + 300)
                .is_empty(),
            "only once"
        );
        // A new handshake: connected again.
        assert_eq!(w.on_event(&stats("office", Some(1400)), 1401).len(), 1);
    }

    #[test]
    fn failures_are_told_once_and_colour_the_tray() {
        let mut w = Watcher::default();
        let error = TunnelState::Error {
            message: "no route".to_owned(),
        };
        let notices = w.on_event(&state("home", error.clone()), 5);
        assert_eq!(
            notices,
            vec![Notice::Failed {
                name: "home".to_owned(),
                message: "no route".to_owned()
            }]
        );
        assert!(w.on_event(&state("home", error), 6).is_empty());
        assert_eq!(w.tray_state(), TrayState::Error);
        w.on_event(&state("home", TunnelState::Inactive), 7);
        assert_eq!(w.tray_state(), TrayState::Disconnected);
        // A deactivation is not a drop.
        assert!(w.on_event(&stats("home", Some(1)), 8).is_empty());
    }

    #[test]
    fn a_tunnel_already_talking_when_first_seen_is_not_announced() {
        let mut w = Watcher::default();
        // The app starts (or the service comes back) with "a" up and talking and "b"
        // up but silent.
        w.set_tunnels(&[
            summary("a", TunnelState::Active),
            summary("b", TunnelState::Active),
        ]);
        assert!(w.on_event(&stats("a", Some(100)), 101).is_empty());
        assert!(w.on_event(&stats("b", None), 101).is_empty());
        // From then on, changes are news: "b" connects, "a" drops.
        assert_eq!(w.on_event(&stats("b", Some(102)), 103).len(), 1);
        assert_eq!(
            w.on_event(&stats("a", Some(100)), 100 + HANDSHAKE_FRESH_SECS),
            vec![Notice::Dropped {
                name: "a".to_owned()
            }]
        );
        // A later list keeps what is known.
        w.set_tunnels(&[summary("a", TunnelState::Active)]);
        assert_eq!(w.on_event(&stats("a", Some(400)), 401).len(), 1);
    }

    #[test]
    fn the_list_sets_the_toggles() {
        let mut w = Watcher::default();
        w.set_tunnels(&[
            summary("a", TunnelState::Active),
            summary("b", TunnelState::Inactive),
        ]);
        assert_eq!(
            w.toggles(),
            vec![("a".to_owned(), true), ("b".to_owned(), false)]
        );
        assert_eq!(w.active_count(), 1);
        w.set_tunnels(&[summary("b", TunnelState::Inactive)]);
        assert_eq!(w.toggles(), vec![("b".to_owned(), false)]);
        assert_eq!(w.tray_state(), TrayState::Disconnected);
    }
}
