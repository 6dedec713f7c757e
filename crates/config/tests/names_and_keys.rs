//! Tunnel names and keys.

use culvert_config::{KeyError, NameError, PresharedKey, PrivateKey, PublicKey, TunnelName};

#[test]
fn the_wg_quick_name_rule() {
    for good in ["wg0", "a", "office_vpn", "A=b+c.d-e", "123456789012345"] {
        assert_eq!(TunnelName::new(good).unwrap().as_str(), good);
    }
    assert_eq!(TunnelName::new(""), Err(NameError::Empty));
    assert!(matches!(
        TunnelName::new("1234567890123456"),
        Err(NameError::TooLong(_))
    ));
    assert_eq!(
        TunnelName::new("my vpn"),
        Err(NameError::InvalidChar {
            name: "my vpn".into(),
            ch: ' '
        })
    );
    for bad in ["wg/0", "wg0\n", "tün", "a:b", "x@y"] {
        assert!(TunnelName::new(bad).is_err(), "{bad}");
    }
    let err = TunnelName::new("my vpn").unwrap_err().to_string();
    assert_eq!(
        err,
        "tunnel name `my vpn` contains ` `; use only letters, digits and _ = + . -"
    );
}

#[test]
fn names_from_file_names() {
    for (file, name) in [
        ("wg0.conf", "wg0"),
        ("/etc/wireguard/office.conf", "office"),
        ("C:\\Users\\me\\Downloads\\home.CONF", "home"),
        ("My Laptop (home).conf", "My_Laptop__home"),
        ("mullvad-se-sto-wg-001.conf", "mullvad-se-sto-"),
        ("noext", "noext"),
        (".conf", "tunnel"),
        ("", "tunnel"),
        ("ä.conf", "_"),
    ] {
        let derived = TunnelName::from_file_name(file);
        assert_eq!(derived.as_str(), name, "{file}");
        assert_eq!(
            TunnelName::new(derived.as_str()).as_ref(),
            Ok(&derived),
            "always valid"
        );
    }
}

#[test]
fn names_serialise_as_strings_and_are_checked_on_the_way_in() {
    let name: TunnelName = "wg0".parse().unwrap();
    assert_eq!(name.to_string(), "wg0");
    assert_eq!(String::from(name.clone()), "wg0");
    assert_eq!(
        TunnelName::try_from("x y".to_owned()).unwrap_err(),
        NameError::InvalidChar {
            name: "x y".into(),
            ch: ' '
        }
    );
}

#[test]
fn keys_round_trip_through_base64() {
    let private = PrivateKey::generate();
    let text = private.to_base64();
    assert_eq!(text.len(), 44);
    assert_eq!(PrivateKey::from_base64(&text).unwrap(), private);
    let public = private.public_key();
    assert_eq!(public.to_string().parse::<PublicKey>().unwrap(), public);
    assert_eq!(PublicKey::from_bytes(*public.as_bytes()), public);
    let psk = PresharedKey::generate();
    assert_eq!(PresharedKey::from_base64(&psk.to_base64()).unwrap(), psk);
    assert_eq!(PrivateKey::from_bytes(*private.as_bytes()), private);
    assert_eq!(PublicKey::from_base64(""), Err(KeyError::Length(0)));
    // Keys derive as WireGuard's do (RFC 7748's test vector, Bob).
    let bob = PrivateKey::from_base64("XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=").unwrap();
    assert_eq!(
        bob.public_key().to_base64(),
        "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="
    );
}
