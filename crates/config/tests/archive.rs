//! Zip import and export.

use std::io::{Cursor, Write};

use culvert_config::{
    EntryError, MAX_CONF_BYTES, MAX_ZIP_BYTES, TunnelName, ZipError, export_zip, import_zip, parse,
};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const SERVER: &str = include_str!("data/server.conf");
const CLIENT: &str = include_str!("data/client.conf");

fn zip_of(entries: &[(&str, &[u8])], method: CompressionMethod) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, data) in entries {
        if name.ends_with('/') {
            w.add_directory(*name, options).unwrap();
        } else {
            w.start_file(*name, options).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

/// Overwrites a little-endian field in every local (`PK\3\4`) and central (`PK\1\2`)
/// header, to make archives that lie.
fn patch(zip: &mut [u8], local_offset: usize, central_offset: usize, value: &[u8]) {
    let mut i = 0;
    while i + 4 <= zip.len() {
        let at = match &zip[i..i + 4] {
            b"PK\x03\x04" => Some(i + local_offset),
            b"PK\x01\x02" => Some(i + central_offset),
            _ => None,
        };
        if let Some(at) = at {
            zip[at..at + value.len()].copy_from_slice(value);
        }
        i += 1;
    }
}

#[test]
fn imports_every_conf_and_skips_the_rest() {
    let archive = zip_of(
        &[
            ("tunnels/", b""),
            ("tunnels/office server.conf", SERVER.as_bytes()),
            ("tunnels/Laptop.CONF", CLIENT.as_bytes()),
            ("tunnels/README.txt", b"not a config"),
            (
                "__MACOSX/tunnels/._Laptop.CONF",
                b"\x00\x05\x16\x07resource fork",
            ),
            ("tunnels/._office server.conf", b"\x00\x05\x16\x07"),
            ("broken.conf", b"[Interface]\nAdress = 10.0.0.1/24\n"),
        ],
        CompressionMethod::Deflated,
    );
    let files = import_zip(&archive).unwrap();
    let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "tunnels/office server.conf",
            "tunnels/Laptop.CONF",
            "broken.conf"
        ]
    );

    let server = files[0].outcome.as_ref().unwrap();
    assert_eq!(server.name.as_str(), "office_server");
    assert_eq!(server.text.as_str(), SERVER);
    let parsed = server.parsed.as_ref().unwrap();
    assert_eq!(parsed.config, parse(SERVER).unwrap().config);
    assert_eq!(parsed.config.to_text(), SERVER);

    let client = files[1].outcome.as_ref().unwrap();
    assert_eq!(client.name.as_str(), "Laptop");
    assert_eq!(
        client.parsed.as_ref().unwrap().warnings.len(),
        1,
        "the host-bits warning"
    );

    // A broken config is still imported as text, with its errors, for the editor.
    let broken = files[2].outcome.as_ref().unwrap();
    assert_eq!(broken.name.as_str(), "broken");
    let errors = broken.parsed.as_ref().unwrap_err();
    assert!(
        errors
            .errors()
            .any(|d| d.message.contains("did you mean `Address`?"))
    );
    // Debug output of an import never shows the private key.
    assert!(!format!("{files:?}").contains("iPCuFiRCvk2w1b0y"));
}

#[test]
fn names_are_valid_and_unique() {
    let archive = zip_of(
        &[
            ("a/wg0.conf", CLIENT.as_bytes()),
            ("b/wg0.conf", CLIENT.as_bytes()),
            ("c/wg0.conf", CLIENT.as_bytes()),
            ("a-very-long-tunnel-name.conf", CLIENT.as_bytes()),
            ("a-very-long-tunnel-name-too.conf", CLIENT.as_bytes()),
            ("Ünïcode (home).conf", CLIENT.as_bytes()),
            (".conf", CLIENT.as_bytes()),
        ],
        CompressionMethod::Stored,
    );
    let names: Vec<_> = import_zip(&archive)
        .unwrap()
        .into_iter()
        .map(|f| f.outcome.unwrap().name.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "wg0",
            "wg0-2",
            "wg0-3",
            "a-very-long-tun",
            "a-very-long-t-2",
            "_n_code__home_",
            "tunnel"
        ]
    );
}

#[test]
fn unsafe_encrypted_and_odd_entries_are_refused_one_by_one() {
    let archive = zip_of(
        &[
            ("../escape.conf", CLIENT.as_bytes()),
            ("/etc/wireguard/abs.conf", CLIENT.as_bytes()),
            ("C:\\Users\\x.conf", CLIENT.as_bytes()),
            ("dir\\..\\dots.conf", CLIENT.as_bytes()),
            ("latin1.conf", b"[Interface]\n# caf\xe9\n"),
            ("fine.conf", CLIENT.as_bytes()),
        ],
        CompressionMethod::Stored,
    );
    let files = import_zip(&archive).unwrap();
    let outcomes: Vec<_> = files
        .iter()
        .map(|f| f.outcome.as_ref().err().cloned())
        .collect();
    assert_eq!(
        outcomes,
        [
            Some(EntryError::UnsafePath),
            Some(EntryError::UnsafePath),
            Some(EntryError::UnsafePath),
            Some(EntryError::UnsafePath),
            Some(EntryError::NotUtf8),
            None,
        ]
    );

    let mut encrypted = zip_of(
        &[("secret.conf", CLIENT.as_bytes())],
        CompressionMethod::Stored,
    );
    patch(&mut encrypted, 6, 8, &[1, 0]);
    let files = import_zip(&encrypted).unwrap();
    assert_eq!(
        files[0].outcome.as_ref().unwrap_err(),
        &EntryError::Encrypted
    );

    let mut bzip2 = zip_of(&[("b.conf", CLIENT.as_bytes())], CompressionMethod::Stored);
    patch(&mut bzip2, 8, 10, &[12, 0]);
    let files = import_zip(&bzip2).unwrap();
    assert_eq!(
        files[0].outcome.as_ref().unwrap_err(),
        &EntryError::UnsupportedCompression
    );
}

#[test]
fn archive_limits() {
    let too_big = vec![0u8; MAX_ZIP_BYTES + 1];
    assert!(matches!(
        import_zip(&too_big),
        Err(ZipError::ArchiveTooLarge { .. })
    ));

    let names: Vec<String> = (0..1001).map(|i| format!("t{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let many = zip_of(&entries, CompressionMethod::Stored);
    let err = import_zip(&many).unwrap_err();
    assert_eq!(
        err,
        ZipError::TooManyEntries {
            count: 1001,
            max: 1000
        }
    );
    assert_eq!(
        err.to_string(),
        "the archive has 1001 entries; archives with more than 1000 are refused"
    );

    let big = vec![b'#'; usize::try_from(MAX_CONF_BYTES).unwrap() + 1];
    let archive = zip_of(&[("big.conf", &big)], CompressionMethod::Deflated);
    let err = import_zip(&archive).unwrap_err();
    assert!(
        matches!(&err, ZipError::EntryTooLarge { path, .. } if path == "big.conf"),
        "{err}"
    );
    // Exactly at the limit is fine (and not a config).
    let at_limit = vec![b'#'; usize::try_from(MAX_CONF_BYTES).unwrap()];
    let archive = zip_of(&[("limit.conf", &at_limit)], CompressionMethod::Deflated);
    assert!(
        import_zip(&archive).unwrap()[0]
            .outcome
            .as_ref()
            .unwrap()
            .parsed
            .is_err()
    );

    assert!(matches!(
        import_zip(b"PK\x05\x06 not really"),
        Err(ZipError::Malformed(_))
    ));
    assert!(matches!(import_zip(b""), Err(ZipError::Malformed(_))));
}

#[test]
fn an_archive_that_lies_about_sizes_is_caught_while_inflating() {
    // 1 MiB of zeros deflates to about 1 KiB; the headers then claim 100 bytes.
    let bomb = vec![b' '; 1 << 20];
    let mut archive = zip_of(&[("bomb.conf", &bomb)], CompressionMethod::Deflated);
    patch(&mut archive, 22, 24, &100u32.to_le_bytes());
    match import_zip(&archive) {
        Err(ZipError::EntryTooLarge { path, .. }) => assert_eq!(path, "bomb.conf"),
        // The zip crate may stop at the declared size and fail the CRC instead; either
        // way no more than the limit was inflated.
        Ok(files) => assert!(
            matches!(files[0].outcome, Err(EntryError::Corrupt(_))),
            "{files:?}"
        ),
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn export_then_import_round_trips() {
    let server = parse(SERVER).unwrap().config;
    let mut client = parse(CLIENT).unwrap().config;
    client.interface.mtu = Some(1380);
    let names = [
        TunnelName::new("server").unwrap(),
        TunnelName::new("client").unwrap(),
    ];
    let archive = export_zip([(&names[0], &server), (&names[1], &client)]).unwrap();
    let files = import_zip(&archive).unwrap();
    assert_eq!(files.len(), 2);
    let back: Vec<_> = files.into_iter().map(|f| f.outcome.unwrap()).collect();
    assert_eq!(back[0].name, names[0]);
    assert_eq!(
        back[0].text.as_str(),
        SERVER,
        "comments and layout travel with the config"
    );
    assert_eq!(back[1].name, names[1]);
    assert_eq!(back[1].parsed.as_ref().unwrap().config, client);

    // Entries are private and undated (the crate reads no clock), so exports repeat.
    let mut reader = zip::ZipArchive::new(Cursor::new(&archive)).unwrap();
    let entry = reader.by_index(0).unwrap();
    assert_eq!(entry.name().unwrap(), "server.conf");
    assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o600));
    drop(entry);
    let again = export_zip([(&names[0], &server), (&names[1], &client)]).unwrap();
    assert_eq!(archive, again);

    let dup = export_zip([(&names[0], &server), (&names[0], &client)]).unwrap_err();
    assert_eq!(dup, ZipError::DuplicateName("server".into()));
}
