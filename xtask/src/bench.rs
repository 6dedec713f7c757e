//! `cargo xtask bench [--seconds N]`: TCP throughput both ways, ping RTT and the daemon's
//! peak memory for Culvert↔Culvert, wireguard-go↔wireguard-go and boringtun↔boringtun
//! tunnels between two network namespaces, with bare veth as the ceiling. Prints a table
//! with ratios to the best anchor and writes it to docs/performance.md. Needs root.

use crate::sys::{self, cargo, run};
use crate::test::{BORINGTUN_VERSION, ENGINE_PACKAGES};
use anyhow::{Context, bail};
use culvert_netlab::{Kind, Lab, TUNNEL_V4, UNDERLAY_V4};
use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default)]
struct Measurement {
    forward_mbps: f64,
    reverse_mbps: f64,
    rtt_ms: f64,
    peak_rss_mib: Option<f64>,
}

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let seconds = match args {
        [] => 10,
        [flag, n] if flag == "--seconds" => n.parse().context("--seconds takes a whole number")?,
        _ => bail!("usage: cargo xtask bench [--seconds N]"),
    };
    if !culvert_netlab::can_run() {
        bail!("the benchmark builds network namespaces: run it as root");
    }
    sys::ensure_apt_packages(ENGINE_PACKAGES)?;
    sys::ensure_cargo_tool("boringtun-cli", BORINGTUN_VERSION)?;
    run(cargo().args(["build", "--release", "--quiet", "-p", "culvert-engine"]))?;
    let engine = sys::workspace_root().join("target/release/culvert-engine");

    let veth = measure(&engine, None, seconds)?;
    let mut rows = Vec::new();
    for (label, kind) in [
        ("Culvert", Kind::Culvert),
        ("wireguard-go (Debian)", Kind::WireguardGo),
        ("boringtun-cli 0.7.1", Kind::Boringtun),
    ] {
        println!("measuring {label} ...");
        rows.push((label, measure(&engine, Some(kind), seconds)?));
    }
    let table = render(&veth, &rows, seconds);
    println!("\n{table}");
    let docs = sys::workspace_root().join("docs");
    std::fs::create_dir_all(&docs)?;
    std::fs::write(docs.join("performance.md"), table)?;
    println!("written to docs/performance.md");
    Ok(())
}

/// One lab: a tunnel of `kind` on both sides, or bare veth when `kind` is None.
fn measure(
    engine: &std::path::Path,
    kind: Option<Kind>,
    seconds: u32,
) -> anyhow::Result<Measurement> {
    let mut lab = Lab::new(engine);
    let target = match kind {
        Some(kind) => {
            lab.connect([kind, kind], false);
            lab.ping(0, TUNNEL_V4[1]);
            TUNNEL_V4[1]
        }
        None => UNDERLAY_V4[1],
    };
    lab.spawn(1, &["iperf3", "-s"]);
    let forward_mbps = iperf(&lab, target, seconds, false)?;
    let reverse_mbps = iperf(&lab, target, seconds, true)?;
    let rtt_ms = ping_rtt(&lab, target)?;
    let peak_rss_mib = kind.and_then(|_| {
        let peak = lab.daemon_peak_rss(0)?.max(lab.daemon_peak_rss(1)?);
        Some(peak as f64 / f64::from(1 << 20))
    });
    Ok(Measurement {
        forward_mbps,
        reverse_mbps,
        rtt_ms,
        peak_rss_mib,
    })
}

/// iperf3 TCP from side 0 to `target` (or back, with `reverse`), in Mbit/s received.
fn iperf(lab: &Lab, target: &str, seconds: u32, reverse: bool) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let duration = seconds.to_string();
        let mut args = vec!["iperf3", "-c", target, "-t", &duration, "-J"];
        if reverse {
            args.push("-R");
        }
        let out = lab.try_exec(0, &args);
        if out.status.success() {
            let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            let bits = report["end"]["sum_received"]["bits_per_second"]
                .as_f64()
                .context("iperf3 reported no throughput")?;
            return Ok(bits / 1e6);
        }
        // The server may still be starting.
        if Instant::now() > deadline {
            bail!(
                "iperf3 to {target} failed: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn ping_rtt(lab: &Lab, target: &str) -> anyhow::Result<f64> {
    let out = lab.try_exec(0, &["ping", "-q", "-c", "50", "-i", "0.02", target]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("min/avg/max"))
        .context("ping printed no summary")?;
    let values = line.split('=').nth(1).context("ping summary")?.trim();
    let avg = values.split('/').nth(1).context("ping average")?;
    Ok(avg.parse()?)
}

fn render(veth: &Measurement, rows: &[(&str, Measurement)], seconds: u32) -> String {
    let mut out = String::from("# Performance\n\n");
    let _ = writeln!(
        out,
        "Measured by `sudo cargo xtask bench --seconds {seconds}` on {} ({}), {}. Two network \
         namespaces joined by a veth pair; iperf3 TCP, one stream, {seconds} s each way; \
         ping RTT averaged over 50 pings; peak RSS is the larger of the two daemons' VmHWM.\n",
        machine(),
        kernel(),
        date()
    );
    out.push_str("| setup | TCP → Mbit/s | TCP ← Mbit/s | ping RTT ms | daemon peak RSS MiB |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: |\n");
    let row = |out: &mut String, label: &str, m: &Measurement| {
        let rss = m.peak_rss_mib.map_or("–".into(), |r| format!("{r:.1}"));
        let _ = writeln!(
            out,
            "| {label} | {:.0} | {:.0} | {:.3} | {rss} |",
            m.forward_mbps, m.reverse_mbps, m.rtt_ms
        );
    };
    row(&mut out, "veth, no tunnel (ceiling)", veth);
    for (label, m) in rows {
        row(&mut out, label, m);
    }
    if let Some(((_, culvert), anchors)) = rows.split_first() {
        let best = |f: fn(&Measurement) -> f64, higher_is_better: bool| {
            let values = anchors.iter().map(|(_, m)| f(m));
            if higher_is_better {
                values.fold(f64::MIN, f64::max)
            } else {
                values.fold(f64::MAX, f64::min)
            }
        };
        let _ = writeln!(
            out,
            "\nCulvert against the best anchor of the same run: TCP → {:.2}×, TCP ← {:.2}×, \
             RTT {:.2}× (lower is better), peak RSS {} (lower is better).",
            culvert.forward_mbps / best(|m| m.forward_mbps, true),
            culvert.reverse_mbps / best(|m| m.reverse_mbps, true),
            culvert.rtt_ms / best(|m| m.rtt_ms, false),
            match culvert.peak_rss_mib {
                Some(rss) => format!(
                    "{:.2}×",
                    rss / best(|m| m.peak_rss_mib.unwrap_or(f64::MAX), false)
                ),
                None => "unknown".into(),
            }
        );
    }
    out
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} × {model}")
}

fn kernel() -> String {
    command_output(Command::new("uname").arg("-r"))
}

fn date() -> String {
    command_output(Command::new("date").arg("-u").arg("+%Y-%m-%d"))
}

fn command_output(command: &mut Command) -> String {
    command
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
