//! The service's runtime choices — which tunnels are up, and each tunnel's routing mode
//! and kill switch — kept in a state file so they survive a restart and a reboot; with
//! the addresses the wanted tunnels' endpoint names had, for when the names cannot be
//! looked up at the next start (the kill switch blocks the resolver's upstream).

use crate::tunnel::TunnelOptions;
use culvert_netconf::write_atomically;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceState {
    /// Tunnels to bring up at start, in activation order.
    pub active: Vec<String>,
    /// Per-tunnel choices; a tunnel without an entry uses the defaults.
    pub options: BTreeMap<String, TunnelOptions>,
    /// `name:port` of an endpoint to the address it last resolved to.
    #[serde(default)]
    pub last_addresses: BTreeMap<String, SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The saved state. A missing file is a fresh install; an unreadable one (it cannot
    /// be truncated by us, but a person may edit it) is reported and replaced by the
    /// defaults rather than stopping the service.
    pub fn load(&self) -> ServiceState {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(path = %self.path.display(), %error, "state file unreadable; starting with no active tunnels");
                ServiceState::default()
            }),
            Err(_) => ServiceState::default(),
        }
    }

    pub fn save(&self, state: &ServiceState) -> Result<(), culvert_netconf::Error> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| culvert_netconf::Error::Io {
                what: "state directory".into(),
                source,
            })?;
        }
        let json = serde_json::to_vec_pretty(state).expect("state serialises");
        write_atomically(&self.path, &json, 0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoutingMode;

    #[test]
    fn state_round_trips_and_garbage_means_defaults() {
        let dir = std::env::temp_dir().join(format!("culvertd-state-{}", std::process::id()));
        let file = StateFile::new(dir.join("state.json"));
        assert_eq!(file.load(), ServiceState::default());
        let mut state = ServiceState {
            active: vec!["office".into()],
            ..Default::default()
        };
        state.options.insert(
            "office".into(),
            TunnelOptions {
                mode: RoutingMode::Full,
                kill_switch: true,
            },
        );
        file.save(&state).unwrap();
        assert_eq!(file.load(), state);
        std::fs::write(dir.join("state.json"), "{not json").unwrap();
        assert_eq!(file.load(), ServiceState::default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
