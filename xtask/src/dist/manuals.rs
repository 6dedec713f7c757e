//! The CLI's man page and shell completions, generated from its clap definitions so
//! they never drift from the real options; culvertd's man page is hand-written
//! (installers/linux/culvertd.8: culvertd has four options and no clap).

use super::Built;
use super::stage;
use crate::sys::run;
use anyhow::Context;
use clap::CommandFactory as _;
use clap_complete::Shell;
use std::path::Path;
use std::process::Command;

/// Writes the man pages and completions under `share` (a tree's `usr/share`).
pub(super) fn install(built: &Built, share: &Path) -> anyhow::Result<()> {
    for (shell, path) in [
        (Shell::Bash, "bash-completion/completions/culvert"),
        (Shell::Zsh, "zsh/vendor-completions/_culvert"),
        (Shell::Fish, "fish/vendor_completions.d/culvert.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(
            shell,
            &mut culvert_cli::Cli::command(),
            "culvert",
            &mut script,
        );
        stage::write(&share.join(path), &script, 0o644)?;
    }

    let mut page = Vec::new();
    clap_mangen::Man::new(culvert_cli::Cli::command())
        .render(&mut page)
        .context("cannot render culvert(1)")?;
    let man1 = share.join("man/man1/culvert.1");
    stage::write(&man1, &page, 0o644)?;
    let man8 = share.join("man/man8/culvertd.8");
    stage::copy(&stage::linux_file(built, "culvertd.8"), &man8, 0o644)?;
    // -n: no name or time stamp inside, so the package is reproducible.
    run(Command::new("gzip").args(["-9nf"]).arg(&man1).arg(&man8))
}
