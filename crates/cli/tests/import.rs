//! `culvert import`: names from file names, conflicts, local validation before any
//! request, archives.

mod common;

use std::fs;

use common::*;
use culvert_ipc::*;

fn imported(n: &str, source: &str, replaced: bool) -> ImportedTunnel {
    ImportedTunnel {
        name: name(n),
        source: source.to_owned(),
        replaced,
        warnings: vec![],
    }
}

#[test]
fn a_conf_file_is_named_after_the_file() {
    let dir = TempDir::new("import-conf");
    fs::write(dir.join("My Laptop (home).conf"), conf()).unwrap();
    let fake = Fake::new().respond(ResponseBody::Imported(imported(
        "My_Laptop__home",
        "My_Laptop__home",
        false,
    )));
    let path = dir.path("My Laptop (home).conf");
    let o = run_cli(&["import", &path], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ImportTunnel {
            name: name("My_Laptop__home"),
            config_text: conf().into(),
            on_conflict: OnConflict::Fail,
        }]
    );
    assert_eq!(o.out, format!("imported My_Laptop__home from {path}\n"));
    assert_eq!(o.err, "");
}

#[test]
fn replace_and_rename_are_passed_on_and_reported() {
    let dir = TempDir::new("import-flags");
    fs::write(dir.join("wg0.conf"), conf()).unwrap();
    let path = dir.path("wg0.conf");

    let fake = Fake::new().respond(ResponseBody::Imported(imported("wg0", "wg0", true)));
    let o = run_cli(&["import", "--replace", &path], &fake).ok();
    let Request::ImportTunnel { on_conflict, .. } = &o.sent[0] else {
        panic!()
    };
    assert_eq!(*on_conflict, OnConflict::Replace);
    assert_eq!(
        o.out,
        format!("imported wg0 from {path}, replacing the old wg0\n")
    );

    let fake = Fake::new().respond(ResponseBody::Imported(imported("wg0-2", "wg0", false)));
    let o = run_cli(&["import", "--rename", &path], &fake).ok();
    let Request::ImportTunnel { on_conflict, .. } = &o.sent[0] else {
        panic!()
    };
    assert_eq!(*on_conflict, OnConflict::Rename);
    assert_eq!(
        o.out,
        format!("imported wg0-2 from {path} (wg0 was taken)\n")
    );
}

#[test]
fn a_taken_name_fails_by_default_naming_the_conflict_and_the_flags() {
    let dir = TempDir::new("import-conflict");
    fs::write(dir.join("wg0.conf"), conf()).unwrap();
    let path = dir.path("wg0.conf");
    let fake = Fake::new().fail(ClientError::Service(IpcError::tunnel_exists(&name("wg0"))));
    let o = run_cli(&["import", &path], &fake);
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        format!(
            "{path}: a tunnel named `wg0` already exists; use --replace to overwrite it or \
             --rename to import under a free name"
        )
    );
    assert_eq!(o.out, "");
}

#[test]
fn warnings_go_to_standard_error() {
    let dir = TempDir::new("import-warn");
    fs::write(dir.join("wg0.conf"), conf()).unwrap();
    let path = dir.path("wg0.conf");
    let mut tunnel = imported("wg0", "wg0", false);
    tunnel.warnings = vec!["line 9, column 1: warning: a keepalive without an endpoint".to_owned()];
    let fake = Fake::new().respond(ResponseBody::Imported(tunnel));
    let o = run_cli(&["import", &path], &fake).ok();
    assert_eq!(
        o.err,
        format!("{path}: line 9, column 1: warning: a keepalive without an endpoint\n")
    );
}

#[test]
fn an_invalid_conf_imports_nothing_and_shows_every_diagnostic() {
    let dir = TempDir::new("import-invalid");
    fs::write(dir.join("good.conf"), conf()).unwrap();
    fs::write(
        dir.join("bad.conf"),
        "[Interface]\nPrivateKey = nope\nAdress = 10.0.0.1/24\n",
    )
    .unwrap();
    let fake = Fake::new();
    let o = run_cli(
        &["import", &dir.path("good.conf"), &dir.path("bad.conf")],
        &fake,
    );
    assert_eq!(o.code(), 1);
    let error = o.error();
    assert!(
        error.starts_with(&format!(
            "{} is not a valid tunnel config (2 errors):\n  line 2, column 14: ",
            dir.path("bad.conf")
        )),
        "{error}"
    );
    assert!(error.contains("\n  line 3, column 1: "), "{error}");
    assert_eq!(o.connects, 0, "nothing is sent when a file is wrong");
}

#[test]
fn unreadable_files_are_reported_together_before_anything_is_sent() {
    let dir = TempDir::new("import-unreadable");
    fs::write(dir.join("binary.conf"), [0xff, 0xfe, 0x00, 0x80]).unwrap();
    fs::write(dir.join("huge.conf"), "#".repeat(65 * 1024)).unwrap();
    let fake = Fake::new();
    let o = run_cli(
        &[
            "import",
            &dir.path("missing.conf"),
            &dir.path("binary.conf"),
            &dir.path("huge.conf"),
        ],
        &fake,
    );
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "3 of 3 files cannot be imported; nothing was imported"
    );
    let lines: Vec<&str> = o.err.lines().collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "error: could not open {}: {}",
                dir.path("missing.conf"),
                // The OS's own words for a missing file.
                fs::File::open(dir.join("missing.conf")).unwrap_err()
            ),
            format!(
                "error: {} is not a text file (not UTF-8), so not a wg-quick .conf",
                dir.path("binary.conf")
            ),
            format!(
                "error: {} is over 64 KiB, too large for a tunnel config; is it the right file?",
                dir.path("huge.conf")
            ),
        ]
    );
    assert_eq!(o.connects, 0);
}

#[test]
fn an_archive_is_sent_whole() {
    let dir = TempDir::new("import-zip");
    let bytes = b"PK\x03\x04 pretend this is an archive".to_vec();
    fs::write(dir.join("tunnels.ZIP"), &bytes).unwrap();
    let path = dir.path("tunnels.ZIP");
    let fake = Fake::new().respond(ResponseBody::ZipImported {
        imported: vec![
            imported("home", "home.conf", false),
            imported("office", "configs/office.conf", true),
        ],
        skipped: vec![],
    });
    let o = run_cli(&["import", "--replace", &path], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ImportZip {
            bytes: bytes.into(),
            on_conflict: OnConflict::Replace
        }]
    );
    assert_eq!(
        o.out,
        format!(
            "imported home from {path}: home.conf\n\
             imported office from {path}: configs/office.conf, replacing the old office\n"
        )
    );
}

#[test]
fn an_archive_is_recognised_by_its_contents_too() {
    let dir = TempDir::new("import-zip-magic");
    let bytes = b"PK\x03\x04 an archive without the extension".to_vec();
    fs::write(dir.join("download"), &bytes).unwrap();
    let fake = Fake::new().respond(ResponseBody::ZipImported {
        imported: vec![],
        skipped: vec![],
    });
    let o = run_cli(&["import", &dir.path("download")], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ImportZip {
            bytes: bytes.into(),
            on_conflict: OnConflict::Fail
        }]
    );
    assert_eq!(
        o.err,
        format!("{}: no .conf files inside\n", dir.path("download"))
    );
}

#[test]
fn skipped_entries_fail_the_command_after_the_rest_is_imported() {
    let dir = TempDir::new("import-zip-skip");
    fs::write(dir.join("a.zip"), b"PK\x03\x04").unwrap();
    fs::write(dir.join("wg0.conf"), conf()).unwrap();
    let zip = dir.path("a.zip");
    let conf_path = dir.path("wg0.conf");
    let invalid = IpcError::new(
        IpcErrorKind::InvalidConfig {
            diagnostics: vec!["line 2, column 14: bad key".to_owned()],
        },
        "the config for `bad` has 1 error",
    );
    let fake = Fake::new()
        .respond(ResponseBody::ZipImported {
            imported: vec![imported("home", "home.conf", false)],
            skipped: vec![
                SkippedEntry {
                    path: "bad.conf".to_owned(),
                    error: invalid,
                },
                SkippedEntry {
                    path: "office.conf".to_owned(),
                    error: IpcError::tunnel_exists(&name("office")),
                },
            ],
        })
        .fail(ClientError::Service(IpcError::tunnel_exists(&name("wg0"))));
    let o = run_cli(&["import", &zip, &conf_path], &fake);
    assert_eq!(o.sent.len(), 2);
    assert_eq!(o.out, format!("imported home from {zip}: home.conf\n"));
    assert_eq!(o.code(), 1);
    assert_eq!(o.error(), "3 of 4 tunnels were not imported");
    assert_eq!(
        o.err,
        format!(
            "error: {zip}: bad.conf: the config for `bad` has 1 error\n  line 2, column 14: bad key\n\
             error: {zip}: office.conf: a tunnel named `office` already exists; use --replace to \
             overwrite it or --rename to import under a free name\n\
             error: {conf_path}: a tunnel named `wg0` already exists; use --replace to overwrite \
             it or --rename to import under a free name\n"
        )
    );
}

#[test]
fn an_archive_too_large_for_one_request_is_refused_locally() {
    let dir = TempDir::new("import-zip-large");
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.resize(800 * 1024, 0);
    fs::write(dir.join("big.zip"), &bytes).unwrap();
    let fake = Fake::new();
    let o = run_cli(&["import", &dir.path("big.zip")], &fake);
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        format!(
            "{} is over 767 KiB, more than culvertd takes in one archive; unzip it and import \
             its .conf files",
            dir.path("big.zip")
        )
    );
    assert_eq!(o.connects, 0);
}

#[test]
fn the_service_going_away_stops_the_import() {
    let dir = TempDir::new("import-gone");
    fs::write(dir.join("a.conf"), conf()).unwrap();
    fs::write(dir.join("b.conf"), conf()).unwrap();
    let fake = Fake::new().fail(ClientError::Disconnected { reason: None });
    let o = run_cli(&["import", &dir.path("a.conf"), &dir.path("b.conf")], &fake);
    assert_eq!(o.code(), 3);
    assert_eq!(o.sent.len(), 1);
}

/// A 16x16 white greyscale PNG: an image without a QR code.
const BLANK_PNG: [u8; 72] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x98, 0xa0,
    0xbd, 0x00, 0x00, 0x00, 0x0f, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0x8f, 0x06, 0x18,
    0x46, 0xb6, 0x00, 0x00, 0x80, 0xf9, 0xff, 0x01, 0x91, 0xeb, 0x20, 0x1a, 0x00, 0x00, 0x00, 0x00,
    0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[test]
fn a_qr_code_image_is_imported_as_its_config_named_after_the_image() {
    let dir = TempDir::new("import-qr");
    fs::write(
        dir.join("My Phone.PNG"),
        culvert_config::qr_png(&conf()).unwrap(),
    )
    .unwrap();
    let path = dir.path("My Phone.PNG");
    let fake = Fake::new().respond(ResponseBody::Imported(imported(
        "My_Phone", "My_Phone", false,
    )));
    let o = run_cli(&["import", "--rename", &path], &fake).ok();
    assert_eq!(
        o.sent,
        vec![Request::ImportTunnel {
            name: name("My_Phone"),
            config_text: conf().into(),
            on_conflict: OnConflict::Rename,
        }]
    );
    assert_eq!(o.out, format!("imported My_Phone from {path}\n"));
    assert_eq!(o.err, "");
}

#[test]
fn an_image_is_recognised_by_its_contents_too() {
    let dir = TempDir::new("import-qr-magic");
    let other = format!("{}# the office\n", conf());
    fs::write(dir.join("shot"), culvert_config::qr_png(&conf()).unwrap()).unwrap();
    fs::write(
        dir.join("office.conf.png"),
        culvert_config::qr_png(&other).unwrap(),
    )
    .unwrap();
    let fake = Fake::new()
        .respond(ResponseBody::Imported(imported("shot", "shot", false)))
        .respond(ResponseBody::Imported(imported("office", "office", false)));
    let o = run_cli(
        &["import", &dir.path("shot"), &dir.path("office.conf.png")],
        &fake,
    )
    .ok();
    assert_eq!(
        o.sent,
        vec![
            Request::ImportTunnel {
                name: name("shot"),
                config_text: conf().into(),
                on_conflict: OnConflict::Fail,
            },
            Request::ImportTunnel {
                name: name("office"),
                config_text: other.into(),
                on_conflict: OnConflict::Fail,
            },
        ]
    );
}

#[test]
fn an_image_without_a_qr_code_imports_nothing() {
    let dir = TempDir::new("import-qr-none");
    fs::write(dir.join("blank.png"), BLANK_PNG).unwrap();
    fs::write(dir.join("good.conf"), conf()).unwrap();
    let fake = Fake::new();
    let o = run_cli(
        &["import", &dir.path("good.conf"), &dir.path("blank.png")],
        &fake,
    );
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        format!(
            "{}: no QR code was found in the image; try a sharper, closer, well-lit picture",
            dir.path("blank.png")
        )
    );
    assert_eq!(o.connects, 0, "nothing is sent when a file is wrong");
}

#[test]
fn a_qr_code_that_is_not_a_config_is_refused() {
    let dir = TempDir::new("import-qr-other");
    fs::write(
        dir.join("link.png"),
        culvert_config::qr_png("https://example.com/").unwrap(),
    )
    .unwrap();
    fs::write(
        dir.join("broken.png"),
        culvert_config::qr_png("[Interface]\nPrivateKey = nope\nAddress = 10.0.0.2/32\n").unwrap(),
    )
    .unwrap();
    fs::write(dir.join("text.jpg"), conf()).unwrap();
    let fake = Fake::new();
    let o = run_cli(
        &[
            "import",
            &dir.path("link.png"),
            &dir.path("broken.png"),
            &dir.path("text.jpg"),
        ],
        &fake,
    );
    assert_eq!(o.code(), 1);
    assert_eq!(
        o.error(),
        "3 of 3 files cannot be imported; nothing was imported"
    );
    let errors: Vec<&str> = o.err.split("error: ").skip(1).collect();
    assert_eq!(errors.len(), 3, "{}", o.err);
    assert_eq!(
        errors[0],
        format!(
            "the QR code in {} is not a tunnel config (it has no [Interface] section)\n",
            dir.path("link.png")
        )
    );
    assert!(
        errors[1].starts_with(&format!(
            "the QR code in {} is not a valid tunnel config (1 error):\n  line 2, column 14: ",
            dir.path("broken.png")
        )),
        "{}",
        errors[1]
    );
    assert_eq!(
        errors[2],
        format!("{}: not a PNG or JPEG image\n", dir.path("text.jpg"))
    );
    assert_eq!(o.connects, 0);
}
