//! `appimage-runtime`: the head of Culvert's AppImage (see the crate's lib.rs).

// An AppImage is a Linux format: elsewhere this program only says so.
#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("the AppImage runtime runs on Linux only");
    std::process::ExitCode::FAILURE
}

#[cfg(target_os = "linux")]
mod runtime {
    use culvert_appimage_runtime::args::{self, Action, HELP};
    use culvert_appimage_runtime::extract::Payload;
    use culvert_appimage_runtime::{Error, launch};
    use std::path::Path;
    use std::process::ExitCode;

    pub(super) fn main() -> ExitCode {
        let mut argv = std::env::args_os();
        let argv0 = argv.next().unwrap_or_default();
        let result = args::parse(argv.collect())
            .map_err(Error::Usage)
            .and_then(|action| act(action, &argv0));
        match result {
            Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            Err(error) => {
                eprintln!("AppImage runtime: {error}");
                ExitCode::FAILURE
            }
        }
    }

    fn act(action: Action, argv0: &std::ffi::OsStr) -> Result<i32, Error> {
        let locate = || {
            let me = std::env::current_exe().map_err(Error::io("/proc/self/exe"))?;
            Payload::locate(&me)
        };
        match action {
            Action::Help => println!("{HELP}"),
            Action::Version => println!("Culvert AppImage runtime {}", env!("CARGO_PKG_VERSION")),
            Action::PrintOffset => println!("{}", locate()?.offset),
            Action::Extract { prefix } => {
                let target = Path::new("squashfs-root");
                locate()?.extract_to(target, prefix.as_deref().map(Path::new), |entry| {
                    println!("{}", target.join(entry).display());
                })?;
            }
            Action::Run {
                args,
                force_extract,
            } => return launch::run(&locate()?, argv0, &args, force_extract),
        }
        Ok(0)
    }
}
#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    runtime::main()
}
