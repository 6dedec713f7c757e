//! A real culvertd for the tests, in a lab's network namespace, with every path under
//! a test directory and everything it prints kept in one log file.

use culvert_netlab::wait_for;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Debug)]
pub struct Culvertd {
    child: Option<Child>,
    namespace: String,
    pub socket: PathBuf,
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub resolv_conf: PathBuf,
    /// stdout and stderr of every run, appended.
    pub log: PathBuf,
    log_filter: String,
}

impl Culvertd {
    /// Starts culvertd in `namespace` with its socket, state, resolv.conf and log under
    /// `dir` and its config in `config_dir`, logging at `log_filter`
    /// (`CULVERT_LOG` / `RUST_LOG` syntax). Waits for its socket.
    pub fn start(namespace: &str, dir: &Path, config_dir: &Path, log_filter: &str) -> Self {
        let mut daemon = Self {
            child: None,
            namespace: namespace.into(),
            socket: dir.join("culvertd.sock"),
            config_dir: config_dir.into(),
            state_dir: dir.join("var"),
            resolv_conf: dir.join("resolv.conf"),
            log: dir.join("culvertd.log"),
            log_filter: log_filter.into(),
        };
        if !daemon.resolv_conf.exists() {
            std::fs::write(&daemon.resolv_conf, "nameserver 192.0.2.53\n").unwrap();
        }
        daemon.restart();
        daemon
    }

    /// Starts it again (after [`Culvertd::kill9`] or a stop), as a boot would.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "culvertd is still running");
        let _ = std::fs::remove_file(&self.socket);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        // With no more capabilities than culvertd.service grants: every self-test shows
        // that the unit's bounding set is enough.
        let child = Command::new("ip")
            .args(["netns", "exec", &self.namespace])
            .args(["setpriv", "--bounding-set", &unit_bounding_set(), "--"])
            .arg(crate::binary("culvertd"))
            .arg("--socket")
            .arg(&self.socket)
            .arg("--config-dir")
            .arg(&self.config_dir)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--resolv-conf")
            .arg(&self.resolv_conf)
            .env("CULVERT_LOG", &self.log_filter)
            .env("RUST_LOG", &self.log_filter)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("culvertd starts");
        self.child = Some(child);
        let socket = self.socket.clone();
        wait_for("culvertd's socket", Duration::from_secs(20), || {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("culvertd exited at start ({status}):\n{}", self.log_text());
            }
            socket.exists()
        });
    }

    /// The daemon's pid (`ip netns exec` execs it, so this is culvertd itself).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("culvertd runs").id()
    }

    /// SIGKILL, and waits for it to be gone: no clean-up of any kind runs.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and waits for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let status = child.wait().unwrap();
            assert!(status.success(), "culvertd stopped with {status}");
        }
    }

    pub fn client(&self) -> culvert_ipc::Client {
        culvert_ipc::connect_with_retry(&self.socket, 100, Duration::from_millis(100))
            .unwrap_or_else(|e| panic!("culvertd answers: {e}\n{}", self.log_text()))
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

impl Drop for Culvertd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM first so it takes its tunnels down; SIGKILL if it hangs.
            // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let start = std::time::Instant::now();
            while child.try_wait().ok().flatten().is_none()
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- culvertd log ({}) ---\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// culvertd.service's `CapabilityBoundingSet`, as setpriv's `--bounding-set` takes it
/// (`-all,+net_admin,...`).
fn unit_bounding_set() -> String {
    let unit = include_str!("../../../installers/linux/culvertd.service");
    let capabilities: Vec<String> = unit
        .lines()
        .filter_map(|line| line.strip_prefix("CapabilityBoundingSet="))
        .flat_map(str::split_whitespace)
        .map(|cap| format!("+{}", cap.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    assert!(
        !capabilities.is_empty(),
        "the unit bounds culvertd's capabilities"
    );
    format!("-all,{}", capabilities.join(","))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_units_bounding_set_reads_as_setpriv_wants_it() {
        let set = super::unit_bounding_set();
        assert!(set.starts_with("-all,+"), "{set}");
        assert!(set.contains("+net_admin"), "{set}");
        assert!(!set.contains("CAP_"), "{set}");
    }
}
