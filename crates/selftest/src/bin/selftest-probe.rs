//! `selftest-probe SOCKET WHAT [ARG]`: run as an unprivileged user by the hostile-user
//! tests. Tries one thing against culvertd (or a file) and prints one line saying what
//! happened: `ok ...` or `denied ...` / `error ...`.
//!
//! WHAT: `list` (connect and list tunnels), `get NAME` (get_tunnel; prints the redacted
//! text after `ok`), `export NAME` (explicit export with the private key), `read PATH`.

use culvert_ipc::{Request, ResponseBody, TunnelName};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [_, "read", path] => match std::fs::read(path) {
            Ok(bytes) => format!("ok {} bytes", bytes.len()),
            Err(e) => format!("denied {e}"),
        },
        [socket, what, ref rest @ ..] => {
            match culvert_ipc::connect_with_retry(socket, 3, Duration::from_millis(100)) {
                Err(e) => format!("denied {e}"),
                Ok(client) => {
                    let name = || TunnelName::new(rest.first().copied().unwrap_or("x")).unwrap();
                    let result = match what {
                        "list" => client
                            .list_tunnels()
                            .map(|t| format!("{} tunnels", t.len())),
                        "get" => client
                            .get_tunnel(&name())
                            .map(|d| d.config_text.as_str().replace('\n', "\\n")),
                        "export" => client
                            .request(Request::ExportTunnel {
                                name: name(),
                                include_private_key: true,
                            })
                            .map(|body| match body {
                                ResponseBody::Exported { .. } => "exported".to_owned(),
                                _ => "unexpected answer".to_owned(),
                            }),
                        other => panic!("unknown probe {other}"),
                    };
                    match result {
                        Ok(text) => format!("ok {text}"),
                        Err(e) => format!("error {e}"),
                    }
                }
            }
        }
        _ => panic!("usage: selftest-probe SOCKET list|get NAME|export NAME, or - read PATH"),
    };
    println!("{outcome}");
}
