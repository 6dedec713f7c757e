//! `cargo xtask bench [--seconds N]`: TCP throughput both ways with one and with four
//! streams, ping RTT and the daemon's peak memory for Culvert↔Culvert,
//! wireguard-go↔wireguard-go and boringtun↔boringtun tunnels between two network
//! namespaces, with bare veth as the ceiling; then Culvert's full handshakes per second
//! (criterion, in memory). Every lab is measured three times, the setups taking turns so
//! a busy moment of the machine hits them alike, and the table shows medians with
//! ratios to the best anchor. Written to docs/performance.md. Needs root.

use crate::sys::{self, cargo, run};
use crate::test::{BORINGTUN_VERSION, ENGINE_PACKAGES};
use anyhow::{Context, bail};
use culvert_netlab::{Kind, Lab, TUNNEL_V4, UNDERLAY_V4};
use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

const REPEATS: usize = 3;
const PARALLEL_STREAMS: &str = "4";

/// One lab's numbers; a column is None where it does not apply (RSS of bare veth).
#[derive(Debug, Clone, Copy, Default)]
struct Measurement {
    forward_mbps: f64,
    reverse_mbps: f64,
    forward4_mbps: f64,
    reverse4_mbps: f64,
    rtt_ms: f64,
    peak_rss_mib: Option<f64>,
}

const SETUPS: [(&str, Option<Kind>); 4] = [
    ("veth, no tunnel (ceiling)", None),
    ("Culvert", Some(Kind::Culvert)),
    ("wireguard-go (Debian)", Some(Kind::WireguardGo)),
    ("boringtun-cli 0.7.1", Some(Kind::Boringtun)),
];

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let seconds = match args {
        [] => 10,
        [flag] if flag == "--app-only" => {
            println!("{}", render_app(&app_figures()?));
            return Ok(());
        }
        [flag, n] if flag == "--seconds" => n.parse().context("--seconds takes a whole number")?,
        _ => bail!("usage: cargo xtask bench [--seconds N | --app-only]"),
    };
    if !culvert_netlab::can_run() {
        bail!("the benchmark builds network namespaces: run it as root");
    }
    sys::ensure_apt_packages(ENGINE_PACKAGES)?;
    sys::ensure_cargo_tool("boringtun-cli", BORINGTUN_VERSION)?;
    run(cargo().args(["build", "--release", "--quiet", "-p", "culvert-engine"]))?;
    let engine = sys::workspace_root().join("target/release/culvert-engine");

    let load_before = load_average();
    let mut runs: Vec<Vec<Measurement>> = vec![Vec::new(); SETUPS.len()];
    for round in 1..=REPEATS {
        for ((label, kind), runs) in SETUPS.iter().zip(&mut runs) {
            println!("round {round}/{REPEATS}: measuring {label} ...");
            runs.push(measure(&engine, *kind, seconds)?);
        }
    }
    let load_after = load_average();
    println!("measuring full handshakes per second ...");
    let handshakes = handshakes_per_second()?;
    let mut table = render(&runs, handshakes, seconds, [load_before, load_after]);
    println!("measuring the desktop app ...");
    table.push_str(&render_app(&app_figures()?));
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
    let forward_mbps = iperf(&lab, target, seconds, &[])?;
    let reverse_mbps = iperf(&lab, target, seconds, &["-R"])?;
    let forward4_mbps = iperf(&lab, target, seconds, &["-P", PARALLEL_STREAMS])?;
    let reverse4_mbps = iperf(&lab, target, seconds, &["-P", PARALLEL_STREAMS, "-R"])?;
    let rtt_ms = ping_rtt(&lab, target)?;
    let peak_rss_mib = kind.and_then(|_| {
        let peak = lab.daemon_peak_rss(0)?.max(lab.daemon_peak_rss(1)?);
        Some(peak as f64 / f64::from(1 << 20))
    });
    Ok(Measurement {
        forward_mbps,
        reverse_mbps,
        forward4_mbps,
        reverse4_mbps,
        rtt_ms,
        peak_rss_mib,
    })
}

/// iperf3 TCP from side 0 to `target` (`-R`: back), in Mbit/s received in total.
/// A failed run (the server still starting, or busy with the previous test) is retried.
fn iperf(lab: &Lab, target: &str, seconds: u32, extra: &[&str]) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(10 + 3 * u64::from(seconds));
    loop {
        let duration = seconds.to_string();
        let mut args = vec!["iperf3", "-c", target, "-t", &duration, "-J"];
        args.extend_from_slice(extra);
        let out = lab.try_exec(0, &args);
        let report: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
        let bits = report
            .as_ref()
            .and_then(|r| r["end"]["sum_received"]["bits_per_second"].as_f64());
        if let (true, Some(bits)) = (out.status.success(), bits) {
            return Ok(bits / 1e6);
        }
        if Instant::now() > deadline {
            let error = report.as_ref().and_then(|r| r["error"].as_str());
            bail!(
                "iperf3 {} to {target} failed: {}",
                extra.join(" "),
                error.map_or_else(
                    || String::from_utf8_lossy(&out.stdout).into_owned(),
                    str::to_owned
                )
            );
        }
        std::thread::sleep(Duration::from_millis(500));
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

/// Culvert's full handshakes (initiation and response, both sides' work) per second
/// on one core, from culvert-proto's criterion benchmark `handshake/full`.
fn handshakes_per_second() -> anyhow::Result<f64> {
    run(cargo().args([
        "bench",
        "--quiet",
        "-p",
        "culvert-proto",
        "--bench",
        "proto",
        "--",
        "handshake/full",
        "--warm-up-time",
        "1",
        "--measurement-time",
        "3",
    ]))?;
    let path = sys::workspace_root().join("target/criterion/handshake/full/new/estimates.json");
    let estimates: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let nanos = estimates["median"]["point_estimate"]
        .as_f64()
        .context("criterion estimates without a median")?;
    Ok(1e9 / nanos)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The median of every column over the runs.
fn medians(runs: &[Measurement]) -> Measurement {
    let column = |f: fn(&Measurement) -> f64| median(runs.iter().map(f).collect());
    Measurement {
        forward_mbps: column(|m| m.forward_mbps),
        reverse_mbps: column(|m| m.reverse_mbps),
        forward4_mbps: column(|m| m.forward4_mbps),
        reverse4_mbps: column(|m| m.reverse4_mbps),
        rtt_ms: column(|m| m.rtt_ms),
        peak_rss_mib: runs[0]
            .peak_rss_mib
            .map(|_| column(|m| m.peak_rss_mib.unwrap_or(0.0))),
    }
}

type Column = (&'static str, fn(&Measurement) -> f64, bool);

/// The columns with a ratio: name, value, whether higher is better.
const COLUMNS: [Column; 5] = [
    ("TCP →", |m| m.forward_mbps, true),
    ("TCP ←", |m| m.reverse_mbps, true),
    ("TCP → ×4", |m| m.forward4_mbps, true),
    ("TCP ← ×4", |m| m.reverse4_mbps, true),
    ("RTT", |m| m.rtt_ms, false),
];

fn render(runs: &[Vec<Measurement>], handshakes: f64, seconds: u32, load: [String; 2]) -> String {
    let rows: Vec<Measurement> = runs.iter().map(|r| medians(r)).collect();
    let veth = rows[0];
    let mut out = String::from("# Performance\n\n");
    let _ = writeln!(
        out,
        "Measured by `sudo cargo xtask bench --seconds {seconds}` on {} (Linux {}), {}; \
         load average {} before and {} after. Two network namespaces joined by a veth \
         pair; iperf3 TCP for {seconds} s each way with one stream and with \
         {PARALLEL_STREAMS} (×4); ping RTT averaged over 50 pings, and the latency the \
         tunnel adds over bare veth; peak RSS is the larger of the two daemons' VmHWM. \
         Each value is the median of {REPEATS} runs, the setups taking turns.\n",
        machine(),
        kernel(),
        date(),
        load[0],
        load[1],
    );
    out.push_str(
        "| setup | TCP → Mbit/s | TCP ← Mbit/s | TCP → ×4 Mbit/s | TCP ← ×4 Mbit/s \
         | ping RTT ms | added latency ms | daemon peak RSS MiB |\n",
    );
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for ((label, _), m) in SETUPS.iter().zip(&rows) {
        let rss = m.peak_rss_mib.map_or("–".into(), |r| format!("{r:.1}"));
        let added = if m.peak_rss_mib.is_some() {
            format!("{:.3}", m.rtt_ms - veth.rtt_ms)
        } else {
            "–".into()
        };
        let _ = writeln!(
            out,
            "| {label} | {:.0} | {:.0} | {:.0} | {:.0} | {:.3} | {added} | {rss} |",
            m.forward_mbps, m.reverse_mbps, m.forward4_mbps, m.reverse4_mbps, m.rtt_ms
        );
    }
    let culvert = rows[1];
    let anchors = &rows[2..];
    let best = |f: fn(&Measurement) -> f64, higher_is_better: bool| {
        let values = anchors.iter().map(f);
        if higher_is_better {
            values.fold(f64::MIN, f64::max)
        } else {
            values.fold(f64::MAX, f64::min)
        }
    };
    let mut ratios: Vec<String> = COLUMNS
        .iter()
        .map(|(name, f, higher)| {
            let note = if *higher { "" } else { " (lower is better)" };
            format!("{name} {:.2}×{note}", f(&culvert) / best(*f, *higher))
        })
        .collect();
    let added = |m: &Measurement| m.rtt_ms - veth.rtt_ms;
    let best_added = anchors.iter().map(added).fold(f64::MAX, f64::min);
    ratios.push(format!(
        "added latency {:.2}× (lower is better)",
        added(&culvert) / best_added
    ));
    if let Some(rss) = culvert.peak_rss_mib {
        let best_rss = best(|m| m.peak_rss_mib.unwrap_or(f64::MAX), false);
        ratios.push(format!("peak RSS {:.2}× (lower is better)", rss / best_rss));
    }
    let _ = writeln!(
        out,
        "\nCulvert against the best anchor of the same run: {}.\n",
        ratios.join(", ")
    );
    let _ = writeln!(
        out,
        "Full handshakes per second (Culvert, one core, both sides' work, in memory: \
         criterion `handshake/full` of culvert-proto): {handshakes:.0}. The anchors have \
         no equivalent in-memory benchmark here.\n"
    );
    out.push_str("Every run (→, ←, →×4, ←×4 Mbit/s; RTT ms), to judge the noise:\n\n");
    for ((label, _), runs) in SETUPS.iter().zip(runs) {
        let each: Vec<String> = runs
            .iter()
            .map(|m| {
                format!(
                    "{:.0}/{:.0}/{:.0}/{:.0}; {:.3}",
                    m.forward_mbps, m.reverse_mbps, m.forward4_mbps, m.reverse4_mbps, m.rtt_ms
                )
            })
            .collect();
        let _ = writeln!(out, "- {label}: {}", each.join(" · "));
    }
    out
}

/// The desktop app, launched [`REPEATS`] times under Xvfb.
fn app_figures() -> anyhow::Result<crate::gui::AppFigures> {
    sys::ensure_apt_packages(crate::test::packages_of(crate::gui::APP_PART))?;
    crate::gui::measure_app(&sys::workspace_root(), REPEATS)
}

fn render_app(app: &crate::gui::AppFigures) -> String {
    let list = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let memory = |m: &crate::gui::Memory| {
        format!(
            "{:.0} MiB proportional set size (median; runs {}), {:.0} MiB if every shared \
             page is counted in full by each process (RSS sum)",
            median(m.pss_mib.clone()),
            list(&m.pss_mib),
            median(m.rss_mib.clone()),
        )
    };
    format!(
        "\nDesktop app (release build, WebKitGTK under Xvfb, against culvertd with three \
         tunnels; `cargo xtask bench --app-only` measures only this): launch to the tunnel \
         list on screen {:.0} ms (median; runs {}), goal under 1,000 ms. Memory of the app \
         and its WebKit processes together, goal under 120 MB: at idle in the tray, 10 s \
         after the window was closed (Ctrl+W), {}; with the window open, 10 s after the \
         list showed, {}.\n",
        median(app.launch_to_list_ms.clone()),
        list(&app.launch_to_list_ms),
        memory(&app.in_tray),
        memory(&app.window_open),
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
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
