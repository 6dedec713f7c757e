//! culvert-netlab: a two-host lab in network namespaces, for the engine's interop tests
//! and `cargo xtask bench`. Each lab makes its own uniquely named namespaces joined by a
//! veth pair, runs WireGuard daemons in them, and removes everything when dropped,
//! whatever the outcome. Linux only; needs root.
#![cfg(target_os = "linux")]
#![allow(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// culvertd's command line (`binary` first) for a test or benchmark: it listens on
/// `socket` and keeps what it touches in `dir` (configs in etc/, state in var/, and
/// the resolv.conf it rewrites), never the machine's own.
pub fn culvertd_command(binary: &Path, socket: &Path, dir: &Path) -> Vec<OsString> {
    vec![
        binary.into(),
        "--socket".into(),
        socket.into(),
        "--config-dir".into(),
        dir.join("etc").into(),
        "--state-dir".into(),
        dir.join("var").into(),
        "--resolv-conf".into(),
        dir.join("resolv.conf").into(),
    ]
}

/// Underlay addresses of the two hosts (documentation ranges, only inside the lab).
pub const UNDERLAY_V4: [&str; 2] = ["192.0.2.1", "192.0.2.2"];
pub const UNDERLAY_V6: [&str; 2] = ["2001:db8:c0::1", "2001:db8:c0::2"];
/// Tunnel addresses.
pub const TUNNEL_V4: [&str; 2] = ["10.200.0.1", "10.200.0.2"];
pub const TUNNEL_V6: [&str; 2] = ["fd00:200::1", "fd00:200::2"];
/// The host [`Lab::add_internet_host`] adds.
pub const INTERNET_HOST: &str = "198.51.100.2";
/// A guest's address and prefix ([`Lab::add_guest`]).
pub const GUEST_V4: &str = "192.168.77.2/24";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Culvert,
    WireguardGo,
    Boringtun,
}

pub struct Lab {
    pub id: String,
    /// Host 0 and host 1, and host 2 once [`Lab::add_internet_host`] made it.
    pub ns: Vec<String>,
    pub iface: [String; 2],
    culvert: PathBuf,
    children: Vec<Child>,
    daemons: [Option<u32>; 2],
    dir: PathBuf,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("ns", &self.ns)
            .finish_non_exhaustive()
    }
}

/// Whether this process may build namespaces; prints why not when it may not.
pub fn can_run() -> bool {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if !root {
        eprintln!("skipped: network namespace tests need root (CI runs them as root)");
    }
    root
}

/// Retries `check` until it holds or `deadline` passes.
pub fn wait_for(what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Lab {
    /// A lab whose Culvert daemons are `culvert_engine` (the culvert-engine binary).
    pub fn new(culvert_engine: impl Into<PathBuf>) -> Self {
        let n = NEXT_LAB.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}{}", std::process::id() % 100_000, n);
        let ns = vec![format!("culvert-{id}-a"), format!("culvert-{id}-b")];
        // Interface names share one UAPI socket directory across namespaces, so they
        // are unique per lab (and at most 15 bytes).
        let iface = [format!("cva{id}"), format!("cvb{id}")];
        let dir = std::env::temp_dir().join(format!("culvert-lab-{id}"));
        let lab = Self {
            id,
            ns,
            iface,
            culvert: culvert_engine.into(),
            children: Vec::new(),
            daemons: [None; 2],
            dir,
        };
        std::fs::create_dir_all(&lab.dir).unwrap();
        for ns in &lab.ns {
            run(&["ip", "netns", "add", ns]);
        }
        run(&[
            "ip", "link", "add", "uplink", "netns", &lab.ns[0], "type", "veth", "peer", "name",
            "uplink", "netns", &lab.ns[1],
        ]);
        for side in 0..2 {
            lab.ip(side, &["link", "set", "lo", "up"]);
            lab.ip(
                side,
                &[
                    "addr",
                    "add",
                    &format!("{}/24", UNDERLAY_V4[side]),
                    "dev",
                    "uplink",
                ],
            );
            lab.ip(
                side,
                &[
                    "addr",
                    "add",
                    &format!("{}/64", UNDERLAY_V6[side]),
                    "dev",
                    "uplink",
                    "nodad",
                ],
            );
            lab.ip(side, &["link", "set", "uplink", "up"]);
        }
        lab
    }

    /// A lab whose host 1 is a wireguard-go server that expects host 0 as its peer (keys
    /// with a PSK), with an internet host behind it; host 0 runs nothing yet.
    pub fn with_server() -> (Self, Keys) {
        let mut lab = Self::new("/nonexistent/culvert-engine");
        lab.start(1, Kind::WireguardGo);
        let keys = Keys::generate(true);
        lab.configure(1, &keys, PeerSetup::default());
        lab.add_internet_host();
        (lab, keys)
    }

    /// Host 2, "the internet" behind host 1, which forwards and masquerades for host 0
    /// (both its underlay and its tunnel traffic); host 0's default route is host 1.
    /// Returns host 2's address.
    pub fn add_internet_host(&mut self) -> &'static str {
        let ns = format!("culvert-{}-c", self.id);
        run(&["ip", "netns", "add", &ns]);
        self.ns.push(ns);
        run(&[
            "ip",
            "link",
            "add",
            "inet",
            "netns",
            &self.ns[1],
            "type",
            "veth",
            "peer",
            "name",
            "inet",
            "netns",
            &self.ns[2],
        ]);
        self.ip(1, &["addr", "add", "198.51.100.1/24", "dev", "inet"]);
        self.ip(
            2,
            &["addr", "add", &format!("{INTERNET_HOST}/24"), "dev", "inet"],
        );
        for side in [1, 2] {
            self.ip(side, &["link", "set", "inet", "up"]);
        }
        self.ip(2, &["link", "set", "lo", "up"]);
        self.ip(2, &["route", "add", "default", "via", "198.51.100.1"]);
        self.ip(0, &["route", "add", "default", "via", UNDERLAY_V4[1]]);
        self.exec(1, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        self.nft(
            1,
            "table ip culvert_lab_nat {
 chain post {
  type nat hook postrouting priority srcnat;
  oifname \"inet\" masquerade
 }
}
",
        );
        INTERNET_HOST
    }

    /// A guest (a container or VM, as far as the network is concerned) behind host
    /// `host`: a namespace of its own on a veth link `guest` (192.168.77.0/24, the guest
    /// .2, the host .1), whose traffic `host` forwards. Returns the guest's side.
    pub fn add_guest(&mut self, host: usize) -> usize {
        let ns = format!("culvert-{}-g", self.id);
        run(&["ip", "netns", "add", &ns]);
        self.ns.push(ns);
        let guest = self.ns.len() - 1;
        run(&[
            "ip",
            "link",
            "add",
            "guest",
            "netns",
            &self.ns[host],
            "type",
            "veth",
            "peer",
            "name",
            "guest",
            "netns",
            &self.ns[guest],
        ]);
        self.ip(host, &["addr", "add", "192.168.77.1/24", "dev", "guest"]);
        self.ip(guest, &["addr", "add", GUEST_V4, "dev", "guest"]);
        for side in [host, guest] {
            self.ip(side, &["link", "set", "guest", "up"]);
        }
        self.ip(guest, &["link", "set", "lo", "up"]);
        self.ip(guest, &["route", "add", "default", "via", "192.168.77.1"]);
        self.exec(host, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        guest
    }

    /// Counts, on `side`'s uplink, every IP packet that arrives from the other host and
    /// is neither WireGuard (to one of the UDP `wireguard_ports`) nor IPv6 neighbour
    /// discovery: whatever a kill switch on the other host let out past its tunnels.
    /// Read with [`Lab::leaks`].
    pub fn watch_for_leaks(&self, side: usize, wireguard_ports: &[u16]) {
        let ports: Vec<String> = wireguard_ports.iter().map(u16::to_string).collect();
        self.nft(
            side,
            &format!(
                "table inet culvert_lab_watch {{
 counter leaks {{}}
 chain in {{
  type filter hook ingress device \"uplink\" priority 0;
  udp dport {{ {} }} accept
  meta l4proto ipv6-icmp accept
  counter name leaks
 }}
}}
",
                ports.join(", ")
            ),
        );
    }

    /// How many packets [`Lab::watch_for_leaks`] counted on `side`.
    pub fn leaks(&self, side: usize) -> u64 {
        self.counter(side, "culvert_lab_watch", "leaks")
    }

    /// The packets of the named nftables counter `name` of table `inet table` on `side`.
    pub fn counter(&self, side: usize, table: &str, name: &str) -> u64 {
        let listing = self.exec(side, &["nft", "list", "counter", "inet", table, name]);
        let text = String::from_utf8_lossy(&listing.stdout);
        text.split_whitespace()
            .skip_while(|word| *word != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no counter {name} in: {text}"))
    }

    /// Loads an nft script in `side`'s namespace.
    pub fn nft(&self, side: usize, script: &str) {
        use std::io::Write;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns[side], "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft runs (cargo xtask test installs nftables)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "nft refused:\n{script}");
    }

    pub fn ip(&self, side: usize, args: &[&str]) -> Output {
        let mut all = vec!["ip", "-n", &self.ns[side]];
        all.extend_from_slice(args);
        run(&all)
    }

    pub fn exec(&self, side: usize, args: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", &self.ns[side]];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Like [`Lab::exec`], without failing on a non-zero exit.
    pub fn try_exec(&self, side: usize, args: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", &self.ns[side]];
        all.extend_from_slice(args);
        Command::new(all[0]).args(&all[1..]).output().unwrap()
    }

    pub fn wg(&self, side: usize, args: &[&str]) -> String {
        let mut all = vec!["wg"];
        all.extend_from_slice(args);
        String::from_utf8(self.exec(side, &all).stdout).unwrap()
    }

    /// Starts `kind` on `side` and waits for its UAPI socket.
    pub fn start(&mut self, side: usize, kind: Kind) {
        let iface = self.iface[side].clone();
        let program: Vec<String> = match kind {
            Kind::Culvert => vec![self.culvert.to_string_lossy().into_owned(), iface.clone()],
            Kind::WireguardGo => vec!["wireguard-go".into(), "-f".into(), iface.clone()],
            Kind::Boringtun => vec![
                boringtun(),
                "--foreground".into(),
                "--disable-drop-privileges".into(),
                iface.clone(),
            ],
        };
        let log = std::fs::File::create(self.dir.join(format!("{iface}.log"))).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns[side]])
            .args(&program)
            .env("WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program:?}: {e}"));
        // `ip netns exec` execs the program, so this is the daemon's own pid.
        self.daemons[side] = Some(child.id());
        self.children.push(child);
        let socket = socket_path(&iface);
        wait_for(
            &format!("{kind:?}'s UAPI socket {}", socket.display()),
            Duration::from_secs(20),
            || socket.exists(),
        );
    }

    /// Runs `kinds[side]` on each side with fresh keys: side 0 knows side 1's IPv4
    /// endpoint (it initiates), side 1 learns side 0's from the handshake.
    pub fn connect(&mut self, kinds: [Kind; 2], with_psk: bool) -> Keys {
        self.start(0, kinds[0]);
        self.start(1, kinds[1]);
        let keys = Keys::generate(with_psk);
        self.configure(0, &keys, PeerSetup::initiator());
        self.configure(1, &keys, PeerSetup::default());
        keys
    }

    /// The interface `side` routes `to` through.
    pub fn route_device(&self, side: usize, to: &str) -> String {
        let out = String::from_utf8(self.ip(side, &["route", "get", to]).stdout).unwrap();
        out.split_whitespace()
            .skip_while(|w| *w != "dev")
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    }

    /// Sends SIGTERM to `side`'s daemon and waits for it to exit (ten seconds at most).
    pub fn stop(&mut self, side: usize) {
        let Some(pid) = self.daemons[side].take() else {
            return;
        };
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        if let Some(child) = self.children.iter_mut().find(|c| c.id() == pid) {
            wait_for("the daemon to exit", Duration::from_secs(10), || {
                child.try_wait().ok().flatten().is_some()
            });
        }
    }

    /// The peak resident memory of `side`'s daemon so far, in bytes (VmHWM).
    pub fn daemon_peak_rss(&self, side: usize) -> Option<u64> {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.daemons[side]?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// Starts `program` in `side`'s namespace; it is killed when the lab is dropped.
    pub fn spawn(&mut self, side: usize, program: &[impl AsRef<OsStr> + std::fmt::Debug]) -> u32 {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns[side]])
            .args(program)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program:?}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Gives `side` a key, a port, its tunnel addresses and the other side as its peer.
    pub fn configure(&self, side: usize, keys: &Keys, peer: PeerSetup) {
        let me = &self.iface[side];
        let other = 1 - side;
        let key_file = self.write(&format!("{me}.key"), &keys.private[side]);
        let port = (51_000 + side).to_string();
        let allowed = format!("{}/32,{}/128", TUNNEL_V4[other], TUNNEL_V6[other]);
        let mut args = vec![
            "set",
            me,
            "private-key",
            &key_file,
            "listen-port",
            &port,
            "peer",
            &keys.public[other],
            "allowed-ips",
            &allowed,
        ];
        let endpoint;
        if let Some(family) = peer.endpoint {
            endpoint = match family {
                Family::V4 => format!("{}:{}", UNDERLAY_V4[other], 51_000 + other),
                Family::V6 => format!("[{}]:{}", UNDERLAY_V6[other], 51_000 + other),
            };
            args.extend(["endpoint", &endpoint]);
        }
        let psk_file;
        if let Some(psk) = &keys.psk {
            psk_file = self.write("psk", psk);
            args.extend(["preshared-key", &psk_file]);
        }
        let keepalive;
        if let Some(seconds) = peer.keepalive {
            keepalive = seconds.to_string();
            args.extend(["persistent-keepalive", &keepalive]);
        }
        self.wg(side, &args);
        self.ip(
            side,
            &["addr", "add", &format!("{}/24", TUNNEL_V4[side]), "dev", me],
        );
        self.ip(
            side,
            &[
                "addr",
                "add",
                &format!("{}/64", TUNNEL_V6[side]),
                "dev",
                me,
                "nodad",
            ],
        );
        self.ip(side, &["link", "set", me, "mtu", "1420", "up"]);
    }

    fn write(&self, name: &str, contents: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, format!("{contents}\n")).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// Seconds since the Unix epoch of the latest handshake `side` reports (0: none).
    pub fn latest_handshake(&self, side: usize) -> u64 {
        let out = self.wg(side, &["show", &self.iface[side], "latest-handshakes"]);
        out.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// (rx, tx) bytes `side` reports for its peer.
    pub fn transfer(&self, side: usize) -> (u64, u64) {
        let out = self.wg(side, &["show", &self.iface[side], "transfer"]);
        let fields: Vec<u64> = out
            .split_whitespace()
            .skip(1)
            .filter_map(|s| s.parse().ok())
            .collect();
        (
            fields.first().copied().unwrap_or(0),
            fields.get(1).copied().unwrap_or(0),
        )
    }

    pub fn wait_for_handshake(&self) {
        wait_for("a handshake on both sides", Duration::from_secs(30), || {
            self.latest_handshake(0) > 0 && self.latest_handshake(1) > 0
        });
    }

    /// Pings `to` from `side` until three replies come back (ten seconds at most).
    pub fn ping(&self, side: usize, to: &str) {
        let out = self.try_exec(side, &["ping", "-c", "3", "-i", "0.2", "-w", "10", to]);
        assert!(
            out.status.success(),
            "ping {to} from side {side} failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// Runs `f` on a thread inside `side`'s network namespace.
    pub fn in_ns<T: Send + 'static>(
        &self,
        side: usize,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = Path::new("/var/run/netns").join(&self.ns[side]);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            // SAFETY: setns on a valid namespace fd moves only this thread, which then runs
            // only `f`; the fd stays open for the call.
            let entered = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0, "setns failed");
            f()
        })
    }

    /// Sends `len` bytes over TCP from `from` to the other side's tunnel address and
    /// checks every byte that arrives.
    pub fn tcp_transfer(&self, from: usize, to_addr: &str, len: usize) {
        let to = 1 - from;
        let to_addr: IpAddr = to_addr.parse().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let receiver = self.in_ns(to, move || {
            let listener = TcpListener::bind((to_addr, 0)).unwrap();
            ready_tx
                .send(listener.local_addr().unwrap().port())
                .unwrap();
            let (mut stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let mut expected = Pattern::default();
            let mut buf = vec![0u8; 1 << 16];
            let mut received = 0usize;
            loop {
                let n = std::io::Read::read(&mut stream, &mut buf).expect("transfer stalled");
                if n == 0 {
                    break;
                }
                assert!(
                    expected.matches(&buf[..n]),
                    "corrupted data at byte {received}"
                );
                received += n;
            }
            received
        });
        let port = ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let sender = self.in_ns(from, move || {
            let mut stream = TcpStream::connect_timeout(
                &SocketAddr::new(to_addr, port),
                Duration::from_secs(10),
            )
            .unwrap();
            stream
                .set_write_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let mut pattern = Pattern::default();
            let mut buf = vec![0u8; 1 << 16];
            let mut sent = 0;
            while sent < len {
                let n = buf.len().min(len - sent);
                pattern.fill(&mut buf[..n]);
                std::io::Write::write_all(&mut stream, &buf[..n]).expect("transfer stalled");
                sent += n;
            }
        });
        sender.join().expect("sender failed");
        assert_eq!(
            receiver.join().expect("receiver failed"),
            len,
            "bytes received"
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        }
        for child in &mut self.children {
            let start = Instant::now();
            while child.try_wait().ok().flatten().is_none()
                && start.elapsed() < Duration::from_secs(5)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        for iface in &self.iface {
            let _ = std::fs::remove_file(socket_path(iface));
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("lab {} logs kept in {}", self.id, self.dir.display());
            for iface in &self.iface {
                if let Ok(log) = std::fs::read_to_string(self.dir.join(format!("{iface}.log"))) {
                    eprintln!("--- {iface} ---\n{log}");
                }
            }
        }
    }
}

pub fn socket_path(iface: &str) -> PathBuf {
    Path::new("/var/run/wireguard").join(format!("{iface}.sock"))
}

#[derive(Debug, Clone, Copy)]
pub enum Family {
    V4,
    V6,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PeerSetup {
    /// Where this side sends; None makes it wait for the other side (the responder).
    pub endpoint: Option<Family>,
    pub keepalive: Option<u16>,
}

impl PeerSetup {
    /// Knows the other side's IPv4 endpoint.
    pub fn initiator() -> Self {
        Self {
            endpoint: Some(Family::V4),
            keepalive: None,
        }
    }
}

/// Lab keys, generated fresh by `wg` for every lab (never logged: no Debug).
#[allow(missing_debug_implementations)]
pub struct Keys {
    pub private: [String; 2],
    pub public: [String; 2],
    pub psk: Option<String>,
}

impl Keys {
    pub fn generate(with_psk: bool) -> Self {
        let private = [genkey(), genkey()];
        let public = [pubkey(&private[0]), pubkey(&private[1])];
        let psk = with_psk.then(|| {
            String::from_utf8(run(&["wg", "genpsk"]).stdout)
                .unwrap()
                .trim()
                .to_owned()
        });
        Self {
            private,
            public,
            psk,
        }
    }
}

fn genkey() -> String {
    String::from_utf8(run(&["wg", "genkey"]).stdout)
        .unwrap()
        .trim()
        .to_owned()
}

fn pubkey(private: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(private.as_bytes())
        .unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned()
}

fn boringtun() -> String {
    let installed = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin/boringtun-cli"))
        .filter(|p| p.exists());
    match installed {
        Some(path) => path.to_string_lossy().into_owned(),
        None => "boringtun-cli".into(),
    }
}

pub fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {args:?}: {e} (cargo xtask test installs what the tests need)")
        });
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A deterministic byte stream both ends of a transfer generate (xorshift64*).
#[derive(Clone)]
struct Pattern {
    state: u64,
    pending: std::collections::VecDeque<u8>,
}

impl Default for Pattern {
    fn default() -> Self {
        Self {
            state: 0x9e37_79b9_7f4a_7c15,
            pending: Default::default(),
        }
    }
}

impl Pattern {
    fn next_byte(&mut self) -> u8 {
        if self.pending.is_empty() {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            self.pending
                .extend(self.state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        self.pending.pop_front().unwrap()
    }

    fn fill(&mut self, buf: &mut [u8]) {
        buf.iter_mut().for_each(|b| *b = self.next_byte());
    }

    fn matches(&mut self, buf: &[u8]) -> bool {
        buf.iter().all(|b| *b == self.next_byte())
    }
}
