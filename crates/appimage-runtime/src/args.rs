//! The runtime's own options. As in the reference runtime, only the first argument is
//! looked at, and only when it starts with `--appimage-`; everything else goes to the
//! application untouched.

use std::ffi::OsString;

/// What the runtime was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the application with these arguments (the normal case).
    Run {
        args: Vec<OsString>,
        force_extract: bool,
    },
    /// `--appimage-extract [PREFIX]`: extract (the entries under PREFIX) to `./squashfs-root`.
    Extract { prefix: Option<String> },
    /// `--appimage-offset`: print where the squashfs image starts.
    PrintOffset,
    /// `--appimage-version`.
    Version,
    /// `--appimage-help`.
    Help,
}

pub const HELP: &str = "\
AppImage options (the first argument only; any other arguments go to the application):
  --appimage-extract [PREFIX]  extract the contents (under PREFIX) to ./squashfs-root
  --appimage-extract-and-run   extract to a cache directory and run from there, even
                               when squashfuse could mount the image
  --appimage-offset            print the offset of the squashfs image in this file
  --appimage-version           print the runtime's version
  --appimage-help              print this text
Environment: APPIMAGE_EXTRACT_AND_RUN=1 is --appimage-extract-and-run.";

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Action, String> {
    let first = args.first().and_then(|a| a.to_str()).unwrap_or("");
    if !first.starts_with("--appimage-") {
        return Ok(Action::Run {
            args,
            force_extract: false,
        });
    }
    let rest = &args[1..];
    let no_more = |action: Action| {
        if rest.is_empty() {
            Ok(action)
        } else {
            Err(format!("{first} takes no further arguments"))
        }
    };
    match first {
        "--appimage-extract" => match rest {
            [] => Ok(Action::Extract { prefix: None }),
            [prefix] => prefix
                .to_str()
                .map(|p| Action::Extract {
                    prefix: Some(p.to_owned()),
                })
                .ok_or_else(|| "the extraction prefix is not valid UTF-8".to_owned()),
            _ => Err("--appimage-extract takes at most one PREFIX".to_owned()),
        },
        "--appimage-extract-and-run" => Ok(Action::Run {
            args: rest.to_vec(),
            force_extract: true,
        }),
        "--appimage-offset" => no_more(Action::PrintOffset),
        "--appimage-version" => no_more(Action::Version),
        "--appimage-help" => no_more(Action::Help),
        other => Err(format!(
            "unknown runtime option {other}; see --appimage-help"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Action, String> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn application_arguments_pass_through_untouched() {
        assert_eq!(
            parse_strs(&["--minimized", "--appimage-offset"]),
            Ok(Action::Run {
                args: vec!["--minimized".into(), "--appimage-offset".into()],
                force_extract: false
            })
        );
        assert_eq!(
            parse_strs(&[]),
            Ok(Action::Run {
                args: vec![],
                force_extract: false
            })
        );
    }

    #[test]
    fn runtime_options_are_recognised() {
        assert_eq!(parse_strs(&["--appimage-offset"]), Ok(Action::PrintOffset));
        assert_eq!(
            parse_strs(&["--appimage-extract", "usr/bin"]),
            Ok(Action::Extract {
                prefix: Some("usr/bin".into())
            })
        );
        assert_eq!(
            parse_strs(&["--appimage-extract-and-run", "-v"]),
            Ok(Action::Run {
                args: vec!["-v".into()],
                force_extract: true
            })
        );
    }

    #[test]
    fn mistakes_are_usage_errors() {
        assert!(parse_strs(&["--appimage-mount-everything"]).is_err());
        assert!(parse_strs(&["--appimage-offset", "x"]).is_err());
        assert!(parse_strs(&["--appimage-extract", "a", "b"]).is_err());
    }
}
