//! `cargo xtask soak [--scale N]`: the reliability self-tests of crates/selftest at N
//! times their CI size (crash-restart iterations, flood length, transfer sizes, ...),
//! optimised and one at a time. Needs root, like the tests themselves.

use crate::sys::{self, cargo, run};
use crate::test::{BORINGTUN_VERSION, ENGINE_PACKAGES};
use anyhow::{Context, bail};

const DEFAULT_SCALE: u32 = 10;

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let scale = match args {
        [] => DEFAULT_SCALE,
        [flag, n] if flag == "--scale" => n.parse().context("--scale takes a whole number")?,
        _ => bail!("usage: cargo xtask soak [--scale N]"),
    };
    if !culvert_netlab::can_run() {
        bail!("the self-tests build network namespaces and users: run it as root");
    }
    let mut packages = ENGINE_PACKAGES.to_vec();
    packages.extend(["nftables", "passwd"]);
    sys::ensure_apt_packages(&packages)?;
    sys::ensure_cargo_tool("boringtun-cli", BORINGTUN_VERSION)?;
    // The tests drive the real binaries, found next to themselves.
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "culvert-engine",
        "-p",
        "culvertd",
    ]))?;
    run(cargo()
        .args(["test", "--release", "-p", "culvert-selftest", "--"])
        .args(["--test-threads=1", "--nocapture"])
        .env("CULVERT_SELFTEST_SCALE", scale.to_string()))
}
