//! The command line: every command, argument and help text (clap derive).
//!
//! Parsing only; what each command does is in `commands.rs`, `import.rs`, `edit.rs`
//! and `follow.rs`. Tunnel names are checked here, while parsing, so a bad name is a
//! usage error (exit code 2) with the rule spelled out.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use culvert_ipc::{DEFAULT_ADDRESS, OnConflict, RoutingMode, TunnelName};

const AFTER_HELP: &str = "\
Examples:
  culvert import ~/Downloads/home.conf
  culvert import ~/Pictures/office.png
  culvert up home
  culvert mode home full
  culvert killswitch home on
  culvert show home
  culvert watch home
  culvert export home --qr
  umask 077; culvert genkey | tee private.key | culvert pubkey

Exit status: 0 success, 1 the service or a file refused (the message says why),
2 usage error, 3 culvertd could not be reached.";

/// Control Culvert WireGuard tunnels through the culvertd service.
///
/// culvertd runs the tunnels; this command asks it over a local socket. Members of
/// group `culvert` and root may use it.
#[derive(Debug, PartialEq, Eq, Parser)]
#[command(name = "culvert", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The socket culvertd listens on.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = DEFAULT_ADDRESS,
        display_order = 100
    )]
    pub socket: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// List the tunnels with their state, routing mode and kill switch.
    List(Json),

    /// Show a tunnel, or every tunnel: its interface, and each peer with live
    /// statistics when up.
    Show {
        /// The tunnel's name; without it, every tunnel is shown.
        name: Option<TunnelName>,
        #[command(flatten)]
        json: Json,
    },

    /// Show the service's version, uptime and active tunnels.
    Status(Json),

    /// Activate a tunnel.
    Up {
        /// The tunnel's name.
        name: TunnelName,
    },

    /// Deactivate a tunnel.
    Down {
        /// The tunnel's name.
        name: TunnelName,
    },

    /// Choose which traffic goes through a tunnel; applied live, the config is kept.
    Mode {
        /// The tunnel's name.
        name: TunnelName,
        /// Which traffic goes through the tunnel.
        #[arg(value_enum)]
        mode: Mode,
    },

    /// Block all traffic outside the tunnel (effective in full routing mode).
    #[command(name = "killswitch")]
    KillSwitch {
        /// The tunnel's name.
        name: TunnelName,
        /// Whether the kill switch is on.
        #[arg(value_enum)]
        state: Switch,
    },

    /// Import tunnels from wg-quick .conf files, .zip archives of them, and QR codes.
    ///
    /// A .conf file's tunnel is named after the file (`My Laptop.conf` becomes
    /// `My_Laptop`); a .zip imports every .conf inside; a PNG or JPEG image (a photo
    /// or screenshot of a tunnel's QR code) imports the config in the code, named after
    /// the image (`office.png` becomes `office`). Every file is checked before anything
    /// is imported. When a tunnel of that name exists the import fails, unless
    /// --replace or --rename says otherwise.
    Import {
        /// wg-quick .conf files, .zip archives and PNG or JPEG images of QR codes.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Overwrite a tunnel of the same name.
        #[arg(long, conflicts_with = "rename")]
        replace: bool,
        /// Import under a free name (`home-2`) when the name is taken.
        #[arg(long)]
        rename: bool,
    },

    /// Create a tunnel with a fresh key pair and no peers; prints its public key.
    Create {
        /// The new tunnel's name: letters, digits and _ = + . -, at most 15.
        name: TunnelName,
    },

    /// Edit a tunnel's config in $VISUAL or $EDITOR, checked before it is saved.
    ///
    /// Keys are shown as `(hidden)`; leave them so and the service keeps them.
    Edit {
        /// The tunnel's name.
        name: TunnelName,
    },

    /// Rename a tunnel (it must be down).
    Rename {
        /// The tunnel's name.
        from: TunnelName,
        /// Its new name.
        to: TunnelName,
    },

    /// Delete a tunnel and its keys, after asking.
    Delete {
        /// The tunnel's name.
        name: TunnelName,
        /// Do not ask; required when standard input is not a terminal.
        #[arg(short, long)]
        yes: bool,
    },

    /// Print a tunnel's config, write it to a file (mode 0600), or show it as a QR code.
    ///
    /// The private key stays hidden unless --private-key is given. --qr draws the
    /// config with its private key as a QR code for a phone, after asking.
    Export {
        /// The tunnel's name.
        name: TunnelName,
        /// Include the private key.
        #[arg(long)]
        private_key: bool,
        /// Write to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE", conflicts_with_all = ["qr", "json"])]
        output: Option<PathBuf>,
        /// Show the config, with its private key, as a QR code on the terminal.
        #[arg(long, conflicts_with = "json")]
        qr: bool,
        /// With --qr: do not ask; required when standard input is not a terminal.
        #[arg(short, long, requires = "qr")]
        yes: bool,
        #[command(flatten)]
        json: Json,
    },

    /// Write every tunnel to a .zip archive (mode 0600).
    ExportAll {
        /// The archive to write.
        #[arg(short, long, value_name = "FILE.zip", required = true)]
        output: PathBuf,
        /// Include the private keys.
        #[arg(long)]
        private_keys: bool,
    },

    /// Show a tunnel's config as a QR code for a phone (the same as export --qr).
    Qr {
        /// The tunnel's name.
        name: TunnelName,
        /// Do not ask; required when standard input is not a terminal.
        #[arg(short, long)]
        yes: bool,
    },

    /// Print the service's recent log lines.
    Log {
        /// How many lines.
        #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 20,
              value_parser = clap::value_parser!(u32).range(1..))]
        lines: u32,
        /// Keep printing new lines as they come, until Ctrl-C.
        #[arg(short, long)]
        follow: bool,
        #[command(flatten)]
        json: Json,
    },

    /// Print tunnel state changes and statistics as they happen, until Ctrl-C.
    Watch {
        /// Only this tunnel.
        name: Option<TunnelName>,
        #[command(flatten)]
        json: Json,
    },

    /// Print a new private key (base64), as `wg genkey` does; needs no service.
    Genkey,

    /// Read a private key from standard input and print its public key, as `wg pubkey`
    /// does; needs no service.
    Pubkey,

    /// Print a new pre-shared key (base64), as `wg genpsk` does; needs no service.
    Genpsk,
}

/// `--json`, on the commands whose output a program may want to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct Json {
    /// Print JSON (one object per line when following).
    #[arg(long)]
    pub json: bool,
}

/// The routing modes, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Only the peers' AllowedIPs, as configured.
    Split,
    /// All traffic, the endpoint excepted.
    Full,
    /// All traffic but private and link-local ranges, so the LAN stays reachable.
    ExcludePrivate,
}

impl From<Mode> for RoutingMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Split => RoutingMode::Split,
            Mode::Full => RoutingMode::Full,
            Mode::ExcludePrivate => RoutingMode::ExcludePrivate,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Block traffic outside the tunnel (in full routing mode).
    On,
    /// Let traffic outside the tunnel flow.
    Off,
}

impl Switch {
    pub fn enabled(self) -> bool {
        self == Switch::On
    }
}

/// What an import does with a taken name, from `--replace` / `--rename`.
pub fn on_conflict(replace: bool, rename: bool) -> OnConflict {
    match (replace, rename) {
        (true, _) => OnConflict::Replace,
        (false, true) => OnConflict::Rename,
        (false, false) => OnConflict::Fail,
    }
}
