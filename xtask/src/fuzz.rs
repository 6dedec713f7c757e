//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs the libFuzzer targets of
//! `crates/*/fuzz` for N seconds each (default 300), every target when none is named.
//! `cargo xtask test` runs each for [`CI_SECONDS`] through [`ci`].
//!
//! Works with the stable toolchain and crates.io alone: instead of `cargo fuzz` (whose
//! sanitizer flags need nightly) each fuzz crate is built by plain cargo with the
//! SanitizerCoverage flags cargo-fuzz passes (all of them stable `-C` options) and
//! libfuzzer-sys links libFuzzer into each target. No AddressSanitizer: the targets
//! are safe Rust, where panics, aborts, timeouts and memory blow-ups are what fuzzing
//! finds.
//!
//! Each target runs over `fuzz/corpus/TARGET` (the growing working corpus, not
//! committed) and `fuzz/seeds/TARGET` (committed: seeds and every past crash, replayed
//! first on every run). A crash leaves its input in `fuzz/artifacts/TARGET/` and fails.

use crate::sys::{cargo, workspace_root};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Seconds per target in CI (`cargo xtask test`).
pub(crate) const CI_SECONDS: u64 = 20;
const DEFAULT_SECONDS: u64 = 300;

/// Flags of cargo-fuzz's default (sanitizer-less) build, all stable.
const COVERAGE_FLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg=fuzzing",
    "-Cdebug-assertions",
    "-Coverflow-checks",
];

#[derive(Debug, Clone)]
struct Target {
    /// `crates/X/fuzz`.
    dir: PathBuf,
    name: String,
}

#[derive(Debug)]
struct Outcome {
    name: String,
    executions: u64,
    seconds: u64,
}

pub(crate) fn main(args: &[String]) -> anyhow::Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut wanted = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .context("--seconds needs a value")?
                    .parse()
                    .context("--seconds takes a whole number")?
            }
            flag if flag.starts_with('-') => {
                bail!("usage: cargo xtask fuzz [--seconds N] [TARGET...] (unknown {flag})")
            }
            name => wanted.push(name.to_owned()),
        }
    }
    let all = targets(&workspace_root())?;
    for name in &wanted {
        if !all.iter().any(|t| &t.name == name) {
            let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
            bail!(
                "no fuzz target {name}; the targets are {}",
                names.join(", ")
            );
        }
    }
    let chosen: Vec<Target> = all
        .into_iter()
        .filter(|t| wanted.is_empty() || wanted.contains(&t.name))
        .collect();
    fuzz(&chosen, seconds)
}

/// The bounded run of `cargo xtask test`: every target for [`CI_SECONDS`].
pub(crate) fn ci(root: &Path) -> anyhow::Result<()> {
    fuzz(&targets(root)?, CI_SECONDS)
}

fn fuzz(targets: &[Target], seconds: u64) -> anyhow::Result<()> {
    let triple = host_triple()?;
    let target_dir = workspace_root().join("target/fuzz");
    let mut built: Vec<&Path> = Vec::new();
    let mut outcomes = Vec::new();
    for target in targets {
        if !built.contains(&target.dir.as_path()) {
            build(&target.dir, &triple, &target_dir)?;
            built.push(&target.dir);
        }
        let binary = target_dir.join(&triple).join("release").join(&target.name);
        outcomes.push(run_target(target, &binary, seconds)?);
    }
    println!("\nfuzz target        executions   seconds  crashes");
    for o in &outcomes {
        println!("{:<18} {:>10}   {:>7}  0", o.name, o.executions, o.seconds);
    }
    Ok(())
}

/// The `[[bin]]` names of every `crates/*/fuzz/Cargo.toml`.
fn targets(root: &Path) -> anyhow::Result<Vec<Target>> {
    let mut found = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))?
        .flatten()
        .map(|e| e.path().join("fuzz"))
        .filter(|d| d.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))?;
        let mut in_bin = false;
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_bin = line == "[[bin]]";
            } else if in_bin && let Some(value) = line.strip_prefix("name") {
                let name = value.trim_start().trim_start_matches('=').trim();
                found.push(Target {
                    dir: dir.clone(),
                    name: name.trim_matches('"').to_owned(),
                });
            }
        }
    }
    Ok(found)
}

fn host_triple() -> anyhow::Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .current_dir(workspace_root())
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host")
}

/// Builds every target of one fuzz crate. `--target` keeps the coverage flags off
/// build scripts and proc macros; one target directory shares the common crates.
fn build(dir: &Path, triple: &str, target_dir: &Path) -> anyhow::Result<()> {
    println!("$ building the fuzz targets of {}", dir.display());
    let status = cargo()
        .args([
            "build",
            "--release",
            "--quiet",
            "--bins",
            "--target",
            triple,
        ])
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir)
        .env("RUSTFLAGS", COVERAGE_FLAGS.join(" "))
        .status()?;
    if !status.success() {
        bail!("building the fuzz targets of {} failed", dir.display());
    }
    Ok(())
}

fn run_target(target: &Target, binary: &Path, seconds: u64) -> anyhow::Result<Outcome> {
    let corpus = target.dir.join("corpus").join(&target.name);
    let seeds = target.dir.join("seeds").join(&target.name);
    let artifacts = target.dir.join("artifacts").join(&target.name);
    for dir in [&corpus, &seeds, &artifacts] {
        std::fs::create_dir_all(dir)?;
    }
    let log_path = workspace_root()
        .join("target/fuzz/logs")
        .join(format!("{}.log", target.name));
    std::fs::create_dir_all(log_path.parent().unwrap())?;
    println!("$ fuzzing {} for {seconds} s", target.name);
    let log = std::fs::File::create(&log_path)?;
    let status = Command::new(binary)
        .arg(&corpus)
        .arg(&seeds)
        .arg(format!("-max_total_time={seconds}"))
        // A single input taking this long is a hang worth reporting.
        .arg("-timeout=30")
        .arg("-rss_limit_mb=2048")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "fuzz target {} failed ({status}); the input is in {}, the whole log in {}:\n{}\n\
             Turn it into a regression test in the owning crate and copy the input into {}.",
            target.name,
            artifacts.display(),
            log_path.display(),
            tail.join("\n"),
            seeds.display()
        );
    }
    let stat = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Outcome {
        name: target.name.clone(),
        executions: stat("stat::number_of_executed_units:"),
        seconds,
    })
}
