//! `culvert genkey`, `culvert pubkey` and `culvert genpsk`: WireGuard keys as `wg`
//! makes them, with culvert-config alone. They never connect to culvertd.
//!
//! A key goes to standard output only, never to standard error or a log, and the
//! text holding it is zeroed once written. Error messages never quote the input.

use std::io::Write;

use anyhow::{Context as _, anyhow, bail};
use culvert_config::{PresharedKey, PrivateKey};
use zeroize::Zeroizing;

use crate::commands::Ctx;

/// More than this on standard input is not a key (a key is 44 characters).
const MAX_KEY_INPUT: usize = 1024;

/// A new private key, base64, as `wg genkey` prints it.
pub(crate) fn genkey(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    print_secret(ctx.out, &PrivateKey::generate().to_base64())
}

/// A new pre-shared key, base64, as `wg genpsk` prints it.
pub(crate) fn genpsk(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    print_secret(ctx.out, &PresharedKey::generate().to_base64())
}

/// The public key of the private key on standard input, as `wg pubkey` prints it.
/// White space around the key (the newline of `echo`) is ignored.
pub(crate) fn pubkey(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let input = ctx
        .console
        .read_input(MAX_KEY_INPUT)
        .context("could not read standard input")?;
    if input.len() > MAX_KEY_INPUT {
        bail!(
            "standard input is over {MAX_KEY_INPUT} bytes, not a private key (44 characters \
             of base64, as printed by: culvert genkey)"
        );
    }
    let text = std::str::from_utf8(&input)
        .map_err(|_| anyhow!("standard input is not a private key: it is not text"))?
        .trim();
    if text.is_empty() {
        bail!(
            "no private key on standard input; pipe one in, as in: culvert genkey | culvert pubkey"
        );
    }
    let key = PrivateKey::from_base64(text)
        .map_err(|e| anyhow!("standard input is not a private key: {e}"))?;
    writeln!(ctx.out, "{}", key.public_key())?;
    Ok(())
}

/// `key` and a newline, written without formatting so no copy of it is made.
fn print_secret(out: &mut dyn Write, key: &Zeroizing<String>) -> anyhow::Result<()> {
    out.write_all(key.as_bytes())?;
    out.write_all(b"\n")?;
    Ok(())
}
