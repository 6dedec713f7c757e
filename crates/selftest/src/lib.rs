//! culvert-selftest: the reliability and security self-tests of issue #11 live in
//! `tests/`; this library holds what they share: the real binaries under test, a
//! culvertd in a lab namespace, an impairing UDP relay (this kernel has no netem), a
//! tmpfs guard and CPU accounting from /proc. Linux only; the tests need root.
#![cfg(target_os = "linux")]
#![allow(unsafe_code)]

mod daemon;
mod mounts;
mod procfs;
mod relay;

pub use daemon::Culvertd;
pub use mounts::Tmpfs;
pub use procfs::cpu_time;
pub use relay::{ImpairingRelay, Impairment, RelayCounts};

use std::path::PathBuf;

/// How much larger than in CI the tests run: `CULVERT_SELFTEST_SCALE` (default 1), set
/// by `cargo xtask soak`.
pub fn scale() -> u32 {
    std::env::var("CULVERT_SELFTEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// The workspace binary `name` (culvert-engine, culvertd) of the profile these tests
/// were built with. Another package's binaries are not built for this one's tests, so
/// `cargo test --workspace` (what `cargo xtask test` runs) or
/// `cargo build -p culvert-engine -p culvertd` must have built them.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test>-<hash>
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build -p culvert-engine -p culvertd`, or \
         `cargo test --workspace`, which `cargo xtask test` runs)",
        path.display()
    );
    path
}

/// A fresh directory under the system temp dir, unique to this process and `label`.
pub fn scratch_dir(label: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "culvert-selftest-{label}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}
