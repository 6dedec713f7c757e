//! The DNS backends against fakes, through the whole of netconf: systemd-resolved as an
//! object this test serves on a private dbus-daemon, resolvconf as a script recording
//! what it is given. netconf configures a real link (in a namespace), so this needs
//! root; CI runs it as root.
#![cfg(target_os = "linux")]

use culvert_netconf::{
    Dns, DnsBackend, DnsSystem, NetConf, Paths, Routing, TunnelNetwork, recover,
};
use culvert_netlab::{Lab, can_run};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A dbus-daemon of our own, listening on a socket in `dir`.
struct PrivateBus {
    daemon: Child,
    address: String,
}

impl PrivateBus {
    fn start(dir: &Path) -> Self {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .arg(format!("--address=unix:path={}", dir.join("bus").display()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (Debian package dbus-daemon) runs");
        let mut address = String::new();
        std::io::BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon said {address:?}");
        Self { daemon, address }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    SetLinkDns(i32, Vec<(i32, Vec<u8>)>),
    SetLinkDomains(i32, Vec<(String, bool)>),
    SetLinkDefaultRoute(i32, bool),
    RevertLink(i32),
}

/// Records what systemd-resolved would be asked to do.
struct FakeResolved {
    calls: Arc<Mutex<Vec<Call>>>,
}

#[zbus::interface(name = "org.freedesktop.resolve1.Manager")]
impl FakeResolved {
    #[zbus(name = "SetLinkDNS")]
    fn set_link_dns(&self, ifindex: i32, addresses: Vec<(i32, Vec<u8>)>) {
        self.record(Call::SetLinkDns(ifindex, addresses));
    }

    fn set_link_domains(&self, ifindex: i32, domains: Vec<(String, bool)>) {
        self.record(Call::SetLinkDomains(ifindex, domains));
    }

    fn set_link_default_route(&self, ifindex: i32, enable: bool) {
        self.record(Call::SetLinkDefaultRoute(ifindex, enable));
    }

    fn revert_link(&self, ifindex: i32) {
        self.record(Call::RevertLink(ifindex));
    }
}

impl FakeResolved {
    fn record(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
    }
}

/// systemd-resolved before 240, which has no SetLinkDefaultRoute.
struct OldResolved {
    calls: Arc<Mutex<Vec<Call>>>,
}

#[zbus::interface(name = "org.freedesktop.resolve1.Manager")]
impl OldResolved {
    #[zbus(name = "SetLinkDNS")]
    fn set_link_dns(&self, ifindex: i32, addresses: Vec<(i32, Vec<u8>)>) {
        self.calls
            .lock()
            .unwrap()
            .push(Call::SetLinkDns(ifindex, addresses));
    }

    fn set_link_domains(&self, ifindex: i32, domains: Vec<(String, bool)>) {
        self.calls
            .lock()
            .unwrap()
            .push(Call::SetLinkDomains(ifindex, domains));
    }

    fn revert_link(&self, ifindex: i32) {
        self.calls.lock().unwrap().push(Call::RevertLink(ifindex));
    }
}

fn serve_fake_resolved(address: &str, calls: Arc<Mutex<Vec<Call>>>) -> zbus::blocking::Connection {
    zbus::blocking::connection::Builder::address(address)
        .unwrap()
        .serve_at("/org/freedesktop/resolve1", FakeResolved { calls })
        .unwrap()
        .name("org.freedesktop.resolve1")
        .unwrap()
        .build()
        .unwrap()
}

/// A directory of the test's own, removed even when the test fails.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str, lab: &Lab) -> Self {
        let dir = std::env::temp_dir().join(format!("culvert-netconf-dns-{name}-{}", lab.id));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The lab's client side "uplink" stands in for a tunnel: only DNS is under test.
fn network(routing: Routing) -> TunnelNetwork {
    TunnelNetwork {
        interface: "uplink".into(),
        addresses: Vec::new(),
        mtu: Some(1500),
        routing,
        fwmark: 51820,
        endpoints: Vec::new(),
        dns: Some(Dns {
            servers: vec![
                "10.200.0.53".parse().unwrap(),
                "fd00:200::53".parse().unwrap(),
            ],
            search: vec!["tunnel.test".into()],
        }),
        kill_switch: false,
    }
}

fn full() -> Routing {
    Routing::Full(vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()])
}

fn uplink_index(lab: &Lab) -> i32 {
    let out = String::from_utf8(lab.ip(0, &["-o", "link", "show", "uplink"]).stdout).unwrap();
    out.split(':').next().unwrap().trim().parse().unwrap()
}

fn in_client<T: Send + 'static>(lab: &Lab, f: impl FnOnce() -> T + Send + 'static) -> T {
    lab.in_ns(0, f).join().expect("netconf thread panicked")
}

fn take(calls: &Mutex<Vec<Call>>) -> Vec<Call> {
    std::mem::take(&mut *calls.lock().unwrap())
}

#[test]
fn systemd_resolved_gets_the_link_servers_and_in_full_mode_every_query() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("/nonexistent/culvert-engine");
    let dir = TempDir::new("resolved", &lab);
    let bus = PrivateBus::start(&dir);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let _resolved = serve_fake_resolved(&bus.address, calls.clone());
    let resolv_conf = dir.join("resolv.conf");
    std::os::unix::fs::symlink("/run/systemd/resolve/stub-resolv.conf", &resolv_conf).unwrap();
    let paths = Paths {
        journal_dir: dir.join("journal"),
        resolv_conf: resolv_conf.clone(),
    };
    let system = DnsSystem {
        resolved_bus: Some(bus.address.clone()),
        resolvconf: dir.join("no-resolvconf"),
    };
    assert_eq!(
        DnsBackend::detect(&resolv_conf, &system),
        DnsBackend::Resolved {
            bus: Some(bus.address.clone())
        }
    );
    let index = uplink_index(&lab);
    let servers = vec![
        (2, vec![10, 200, 0, 53]),
        (
            10,
            "fd00:200::53"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
                .to_vec(),
        ),
    ];
    let search = ("tunnel.test".to_owned(), false);

    // Split: the servers and the search domain on the link, nothing more.
    let (p, s) = (paths.clone(), system.clone());
    let netconf = in_client(&lab, move || {
        NetConf::apply_with(&p, &s, &network(Routing::Split(Vec::new()))).unwrap()
    });
    assert_eq!(
        take(&calls),
        [
            Call::SetLinkDns(index, servers.clone()),
            Call::SetLinkDomains(index, vec![search.clone()]),
        ]
    );

    // Full, live: the routing-only root domain and the default route take every query.
    let netconf = in_client(&lab, move || {
        let mut netconf = netconf;
        netconf.set_routing(full()).unwrap();
        netconf
    });
    let full_calls = [
        Call::SetLinkDns(index, servers.clone()),
        Call::SetLinkDomains(index, vec![search.clone(), (".".to_owned(), true)]),
        Call::SetLinkDefaultRoute(index, true),
    ];
    let mut expected = vec![Call::RevertLink(index)];
    expected.extend(full_calls.iter().cloned());
    assert_eq!(take(&calls), expected);

    in_client(&lab, move || netconf.revert().unwrap());
    assert_eq!(take(&calls), [Call::RevertLink(index)]);

    // A run that never reverted (as after a crash): recovery reverts from the journal.
    let (p, s) = (paths.clone(), system.clone());
    in_client(&lab, move || {
        drop(NetConf::apply_with(&p, &s, &network(full())).unwrap());
    });
    assert_eq!(take(&calls), full_calls);
    let p = paths.clone();
    let recovered = in_client(&lab, move || recover(&p).unwrap().undone);
    assert_eq!(recovered, ["uplink"]);
    assert_eq!(take(&calls), [Call::RevertLink(index)]);
    let p = paths.clone();
    assert!(in_client(&lab, move || recover(&p).unwrap().undone).is_empty());
    assert!(take(&calls).is_empty(), "recovery is done once");

    assert_eq!(
        std::fs::read_link(&resolv_conf).unwrap(),
        Path::new("/run/systemd/resolve/stub-resolv.conf"),
        "resolved's file is left to resolved"
    );
}

/// A `resolvconf` that appends its arguments, and for `-a` its input, to `log`.
fn fake_resolvconf(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("resolvconf.log");
    let program = dir.join("resolvconf");
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\n{{ printf 'argv:'; printf ' %s' \"$@\"; printf '\\n'; \
             if [ \"$1\" = -a ]; then cat; fi; }} >> '{}'\n",
            log.display()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&program).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&program, permissions).unwrap();
    (program, log)
}

fn take_log(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let _ = std::fs::remove_file(log);
    text
}

const RECORD: &str = "# Written by Culvert for uplink; the original comes back when it goes down.\n\
                      nameserver 10.200.0.53\nnameserver fd00:200::53\nsearch tunnel.test\n";

#[test]
fn resolvconf_gets_a_record_of_its_own_and_loses_it_on_revert_and_recovery() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("/nonexistent/culvert-engine");
    let dir = TempDir::new("resolvconf", &lab);
    let (program, log) = fake_resolvconf(&dir);
    let system = DnsSystem {
        resolved_bus: Some(format!("unix:path={}", dir.join("no-bus").display())),
        resolvconf: program.clone(),
    };

    // Debian's resolvconf: /etc/resolv.conf is its symlink.
    let resolv_conf = dir.join("resolv.conf");
    std::os::unix::fs::symlink("../run/resolvconf/resolv.conf", &resolv_conf).unwrap();
    let paths = Paths {
        journal_dir: dir.join("journal"),
        resolv_conf: resolv_conf.clone(),
    };
    assert_eq!(
        DnsBackend::detect(&resolv_conf, &system),
        DnsBackend::Resolvconf {
            program: program.clone(),
            openresolv: false
        }
    );
    let (p, s) = (paths.clone(), system.clone());
    let netconf = in_client(&lab, move || {
        NetConf::apply_with(&p, &s, &network(Routing::Split(Vec::new()))).unwrap()
    });
    assert_eq!(
        take_log(&log),
        format!("argv: -a tun.uplink.culvert\n{RECORD}")
    );
    in_client(&lab, move || netconf.revert().unwrap());
    assert_eq!(take_log(&log), "argv: -d tun.uplink.culvert\n");
    assert_eq!(
        std::fs::read_link(&resolv_conf).unwrap(),
        Path::new("../run/resolvconf/resolv.conf")
    );

    // openresolv: metric 0, exclusive in full mode; recovered after a run that never
    // reverted.
    std::fs::remove_file(&resolv_conf).unwrap();
    let original = "# Generated by resolvconf\nnameserver 192.0.2.53\n";
    std::fs::write(&resolv_conf, original).unwrap();
    let (p, s) = (paths.clone(), system.clone());
    let netconf = in_client(&lab, move || {
        NetConf::apply_with(&p, &s, &network(Routing::Split(Vec::new()))).unwrap()
    });
    assert_eq!(
        take_log(&log),
        format!("argv: -a tun.uplink.culvert -m 0\n{RECORD}")
    );
    in_client(&lab, move || {
        let mut netconf = netconf;
        netconf.set_routing(full()).unwrap();
        drop(netconf);
    });
    assert_eq!(
        take_log(&log),
        format!("argv: -a tun.uplink.culvert -m 0 -x\n{RECORD}")
    );
    let p = paths.clone();
    assert_eq!(
        in_client(&lab, move || recover(&p).unwrap().undone),
        ["uplink"]
    );
    assert_eq!(take_log(&log), "argv: -f -d tun.uplink.culvert\n");
    assert_eq!(std::fs::read_to_string(&resolv_conf).unwrap(), original);
}

#[test]
fn an_older_resolved_without_default_route_still_gets_the_root_domain() {
    if !can_run() {
        return;
    }
    let lab = Lab::new("/nonexistent/culvert-engine");
    let dir = TempDir::new("old-resolved", &lab);
    let bus = PrivateBus::start(&dir);
    let calls = Arc::new(Mutex::new(Vec::new()));
    let _resolved = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .serve_at(
            "/org/freedesktop/resolve1",
            OldResolved {
                calls: calls.clone(),
            },
        )
        .unwrap()
        .name("org.freedesktop.resolve1")
        .unwrap()
        .build()
        .unwrap();
    let resolv_conf = dir.join("resolv.conf");
    std::fs::write(&resolv_conf, "# resolved's stub\nnameserver 127.0.0.53\n").unwrap();
    let paths = Paths {
        journal_dir: dir.join("journal"),
        resolv_conf,
    };
    let system = DnsSystem {
        resolved_bus: Some(bus.address.clone()),
        resolvconf: dir.join("no-resolvconf"),
    };
    let index = uplink_index(&lab);
    let netconf = in_client(&lab, move || {
        NetConf::apply_with(&paths, &system, &network(full())).unwrap()
    });
    let recorded = take(&calls);
    assert_eq!(
        recorded.get(1),
        Some(&Call::SetLinkDomains(
            index,
            vec![("tunnel.test".into(), false), (".".into(), true)]
        )),
        "{recorded:?}"
    );
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    in_client(&lab, move || netconf.revert().unwrap());
    assert_eq!(take(&calls), [Call::RevertLink(index)]);
}
