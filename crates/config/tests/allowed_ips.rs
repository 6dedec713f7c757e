//! AllowedIPs algebra: known lists, and laws checked against brute-force models.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use culvert_config::{IpNet, Ipv4Net, Ipv6Net, PrefixSet, normalise, parse};
use proptest::prelude::*;

fn nets(list: &str) -> Vec<IpNet> {
    list.split(',').map(|s| s.trim().parse().unwrap()).collect()
}

fn set(list: &str) -> PrefixSet {
    nets(list).into_iter().collect()
}

/// wireguard-android's "Exclude private IPs" list (`PeerProxy.IPV4_PUBLIC_NETWORKS`):
/// 0.0.0.0/0 minus 10/8, 172.16/12, 192.168/16 and 224/3, as a minimal prefix list.
const ANDROID_PUBLIC_V4: &str = "0.0.0.0/5, 8.0.0.0/7, 11.0.0.0/8, 12.0.0.0/6, 16.0.0.0/4, \
    32.0.0.0/3, 64.0.0.0/2, 128.0.0.0/3, 160.0.0.0/5, 168.0.0.0/6, 172.0.0.0/12, \
    172.32.0.0/11, 172.64.0.0/10, 172.128.0.0/9, 173.0.0.0/8, 174.0.0.0/7, 176.0.0.0/4, \
    192.0.0.0/9, 192.128.0.0/11, 192.160.0.0/13, 192.169.0.0/16, 192.170.0.0/15, \
    192.172.0.0/14, 192.176.0.0/12, 192.192.0.0/10, 193.0.0.0/8, 194.0.0.0/7, 196.0.0.0/6, \
    200.0.0.0/5, 208.0.0.0/4";

#[test]
fn reproduces_the_wireguard_android_list_exactly() {
    let full_v4 = set("0.0.0.0/0");
    let rfc1918_and_224_3 = set("10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 224.0.0.0/3");
    let computed = full_v4.difference(&rfc1918_and_224_3).prefixes();
    assert_eq!(
        computed,
        nets(ANDROID_PUBLIC_V4),
        "same prefixes, same order"
    );
}

#[test]
fn exclude_private_is_the_android_list_minus_the_other_local_ranges() {
    let ours = PrefixSet::exclude_private();
    let android = set(ANDROID_PUBLIC_V4);
    let also_local = set("0.0.0.0/8, 100.64.0.0/10, 127.0.0.0/8, 169.254.0.0/16");
    let v6 = set("::/1, 8000::/2, c000::/3, e000::/4, f000::/5, f800::/6, fe00::/9, fec0::/10");
    assert_eq!(ours, android.difference(&also_local).union(&v6));

    for private in [
        "10.1.2.3",
        "172.20.0.1",
        "192.168.1.1",
        "100.100.100.100",
        "127.0.0.1",
        "169.254.1.1",
        "224.0.0.251",
        "239.255.255.250",
        "255.255.255.255",
        "0.1.2.3",
        "fd12::1",
        "fe80::1",
        "ff02::1",
    ] {
        assert!(!ours.contains(private.parse().unwrap()), "{private}");
    }
    for public in [
        "1.1.1.1",
        "8.8.8.8",
        "172.15.255.255",
        "172.32.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "192.169.0.1",
        "223.255.255.255",
        "2606:4700::1111",
        "::2",
        "fbff::1",
    ] {
        assert!(ours.contains(public.parse().unwrap()), "{public}");
    }
    // Minimal: no two prefixes could be merged.
    let prefixes = ours.prefixes();
    assert_eq!(normalise(prefixes.clone()), prefixes);
    // 51 IPv4 prefixes (checked with Python's ipaddress module) and 8 IPv6 ones.
    assert_eq!(prefixes.len(), 59, "{}", ours);
}

#[test]
fn full_tunnel_and_basic_operations() {
    assert_eq!(PrefixSet::full_tunnel().prefixes(), nets("0.0.0.0/0, ::/0"));
    assert_eq!(PrefixSet::full_tunnel().to_string(), "0.0.0.0/0, ::/0");
    assert_eq!(
        normalise(nets(
            "10.0.1.0/24, 10.0.0.0/24, 10.0.0.7/32, 10.0.2.0/23, fd00::/9, fd80::/9"
        )),
        nets("10.0.0.0/22, fd00::/8")
    );
    // Host bits are dropped, as WireGuard drops them.
    assert_eq!(set("172.17.0.11/20").prefixes(), nets("172.17.0.0/20"));
    let a = set("10.0.0.0/8");
    let b = set("10.20.0.0/16, 192.168.0.0/24");
    assert_eq!((&a | &b).prefixes(), nets("10.0.0.0/8, 192.168.0.0/24"));
    assert_eq!((&a & &b).prefixes(), nets("10.20.0.0/16"));
    assert_eq!((&b - &a).prefixes(), nets("192.168.0.0/24"));
    assert!(a.overlaps(&b));
    assert!(!a.overlaps(&set("11.0.0.0/8, ::/0")));
    assert!(a.contains_net(&"10.20.30.0/24".parse().unwrap()));
    assert!(!a.contains_net(&"10.0.0.0/7".parse().unwrap()));
    let mut s = PrefixSet::new();
    assert!(s.is_empty());
    s.insert("::/0".parse().unwrap());
    s.insert("0.0.0.0/0".parse().unwrap());
    assert_eq!(s, PrefixSet::full_tunnel());
}

#[test]
fn overlap_between_two_tunnels() {
    let key = |k: &str| format!("PublicKey = {k}\n");
    let home = format!(
        "[Interface]\nPrivateKey = iPCuFiRCvk2w1b0yPMeCpM2pzAbuV6VpaQ+LtBa1Jkw=\n[Peer]\n{}\
         AllowedIPs = 10.100.0.0/16, 192.168.1.0/24\n",
        key("mYckSOFCVKnTxkL5EPKhdCKIBm6O892er9co9w11TCs=")
    );
    let work = format!(
        "[Interface]\nPrivateKey = 4E8tBN64xGX641R4Aaz58ss3/aCNWc5ioap8xcHBjlk=\n[Peer]\n{}\
         AllowedIPs = 10.100.5.0/24\n[Peer]\n{}AllowedIPs = 192.168.2.0/24\n",
        key("XNNO4Pin2Zjh8+OHu8l1KWf0eBPwuE3ucLCEXKyKBls="),
        key("Syt2XNgua/kjwURD5cBfab5mVROkPkj0CxsWOw13twM=")
    );
    let home = parse(&home).unwrap().config;
    let work = parse(&work).unwrap().config;
    assert_eq!(home.overlap(&work).prefixes(), nets("10.100.5.0/24"));
    let client = parse(include_str!("data/client.conf")).unwrap().config;
    assert_eq!(
        client.allowed_ips_set().prefixes(),
        nets("10.100.0.0/16, 172.17.0.0/20")
    );
    assert!(
        home.overlap(&client)
            .contains("10.100.9.9".parse().unwrap())
    );
}

// ---- Brute-force models -------------------------------------------------------------

/// A prefix inside 10.0.0.0/24, so the universe is 256 addresses and a set is a bitmap.
fn small_v4() -> impl Strategy<Value = IpNet> {
    (24u8..=32, any::<u8>()).prop_map(|(len, host)| {
        IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, 0, 0, host), len).unwrap())
    })
}

/// The same inside 2001:db8::/120.
fn small_v6() -> impl Strategy<Value = IpNet> {
    (120u8..=128, any::<u8>()).prop_map(|(len, host)| {
        let addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(host));
        IpNet::V6(Ipv6Net::new(addr, len).unwrap())
    })
}

fn small_sets() -> impl Strategy<Value = Vec<IpNet>> {
    prop::collection::vec(prop_oneof![small_v4(), small_v6()], 0..6)
}

type Bitmap = ([bool; 256], [bool; 256]);

fn model(nets: &[IpNet]) -> Bitmap {
    let mut m = ([false; 256], [false; 256]);
    for x in 0..256usize {
        let (v4, v6) = addresses(x);
        m.0[x] = nets.iter().any(|n| n.contains(&v4));
        m.1[x] = nets.iter().any(|n| n.contains(&v6));
    }
    m
}

fn addresses(x: usize) -> (IpAddr, IpAddr) {
    let low = u8::try_from(x).unwrap();
    let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, low));
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(low)));
    (v4, v6)
}

/// The unique minimal prefix list of a bitmap: whole blocks, else split in halves.
fn minimal(bits: &[bool; 256], start: usize, size: usize, out: &mut Vec<(usize, u32)>) {
    let block = &bits[start..start + size];
    if block.iter().all(|&b| b) {
        out.push((start, size.trailing_zeros()));
    } else if block.iter().any(|&b| b) {
        minimal(bits, start, size / 2, out);
        minimal(bits, start + size / 2, size / 2, out);
    }
}

fn expected_prefixes(m: &Bitmap) -> Vec<IpNet> {
    let mut out = Vec::new();
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    minimal(&m.0, 0, 256, &mut v4);
    minimal(&m.1, 0, 256, &mut v6);
    for (start, host_bits) in v4 {
        let (a, _) = addresses(start);
        out.push(IpNet::new(a, 32 - u8::try_from(host_bits).unwrap()).unwrap());
    }
    for (start, host_bits) in v6 {
        let (_, a) = addresses(start);
        out.push(IpNet::new(a, 128 - u8::try_from(host_bits).unwrap()).unwrap());
    }
    out
}

fn check(set: &PrefixSet, m: &Bitmap) -> Result<(), TestCaseError> {
    for x in 0..256 {
        let (v4, v6) = addresses(x);
        prop_assert_eq!(set.contains(v4), m.0[x], "{}", v4);
        prop_assert_eq!(set.contains(v6), m.1[x], "{}", v6);
    }
    prop_assert_eq!(set.prefixes(), expected_prefixes(m));
    Ok(())
}

fn combine(a: &Bitmap, b: &Bitmap, f: impl Fn(bool, bool) -> bool) -> Bitmap {
    let mut m = ([false; 256], [false; 256]);
    for x in 0..256 {
        m.0[x] = f(a.0[x], b.0[x]);
        m.1[x] = f(a.1[x], b.1[x]);
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn operations_match_the_bitmap_model(a in small_sets(), b in small_sets()) {
        let (sa, sb): (PrefixSet, PrefixSet) = (a.iter().copied().collect(), b.iter().copied().collect());
        let (ma, mb) = (model(&a), model(&b));
        check(&sa, &ma)?;
        check(&sa.union(&sb), &combine(&ma, &mb, |x, y| x || y))?;
        check(&sa.intersection(&sb), &combine(&ma, &mb, |x, y| x && y))?;
        check(&sa.difference(&sb), &combine(&ma, &mb, |x, y| x && !y))?;
        prop_assert_eq!(sa.overlaps(&sb), !sa.intersection(&sb).is_empty());
        prop_assert_eq!(normalise(a.clone()), expected_prefixes(&ma));
    }

    #[test]
    fn laws_hold_on_whole_address_spaces(
        a in prop::collection::vec(any_net(), 0..8),
        b in prop::collection::vec(any_net(), 0..8),
        c in prop::collection::vec(any_net(), 0..8),
    ) {
        let (a, b, c): (PrefixSet, PrefixSet, PrefixSet) =
            (a.into_iter().collect(), b.into_iter().collect(), c.into_iter().collect());
        let full = PrefixSet::full_tunnel();
        prop_assert_eq!(a.union(&b), b.union(&a));
        prop_assert_eq!(a.intersection(&b), b.intersection(&a));
        prop_assert_eq!(a.union(&b).union(&c), a.union(&b.union(&c)));
        prop_assert_eq!(a.union(&a), a.clone());
        prop_assert!(a.difference(&a).is_empty());
        prop_assert_eq!(a.difference(&b).union(&a.intersection(&b)), a.clone());
        prop_assert!(a.difference(&b).intersection(&b).is_empty());
        prop_assert_eq!(
            full.difference(&a.union(&b)),
            full.difference(&a).intersection(&full.difference(&b))
        );
        prop_assert_eq!(a.intersection(&b.union(&c)), a.intersection(&b).union(&a.intersection(&c)));
        // The prefix list describes the set exactly, and is minimal: disjoint, sorted, and
        // no two prefixes are the halves of one larger prefix.
        let prefixes = a.prefixes();
        prop_assert_eq!(prefixes.iter().copied().collect::<PrefixSet>(), a.clone());
        for pair in prefixes.windows(2) {
            let (x, y) = (pair[0], pair[1]);
            prop_assert!(!x.contains(&y) && !y.contains(&x));
            prop_assert!(x.network() < y.network() || x.addr().is_ipv4() && y.addr().is_ipv6());
            if x.prefix_len() == y.prefix_len() && x.prefix_len() > 0 {
                prop_assert_ne!(x.supernet(), y.supernet(), "{} and {} merge", x, y);
            }
        }
    }

    #[test]
    fn membership_matches_the_prefixes_anywhere(
        a in prop::collection::vec(any_net(), 0..8),
        b in prop::collection::vec(any_net(), 0..8),
        probes in prop::collection::vec(any::<u32>(), 16),
    ) {
        let (sa, sb): (PrefixSet, PrefixSet) = (a.iter().copied().collect(), b.iter().copied().collect());
        let diff = sa.difference(&sb);
        // Random addresses plus each prefix's edges and their neighbours.
        let mut addrs: Vec<IpAddr> = probes.into_iter().map(|p| IpAddr::V4(Ipv4Addr::from(p))).collect();
        for n in a.iter().chain(&b) {
            for edge in [n.network(), n.broadcast()] {
                addrs.push(edge);
                match edge {
                    IpAddr::V4(v) => {
                        let v = u32::from(v);
                        addrs.push(IpAddr::V4(v.wrapping_add(1).into()));
                        addrs.push(IpAddr::V4(v.wrapping_sub(1).into()));
                    }
                    IpAddr::V6(v) => {
                        let v = u128::from(v);
                        addrs.push(IpAddr::V6(v.wrapping_add(1).into()));
                        addrs.push(IpAddr::V6(v.wrapping_sub(1).into()));
                    }
                }
            }
        }
        for x in addrs {
            let in_a = a.iter().any(|n| n.contains(&x));
            let in_b = b.iter().any(|n| n.contains(&x));
            prop_assert_eq!(sa.contains(x), in_a, "{}", x);
            prop_assert_eq!(diff.contains(x), in_a && !in_b, "{}", x);
        }
    }
}

fn any_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(a.into(), l).unwrap())),
        (any::<u128>(), 0u8..=128).prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(a.into(), l).unwrap())),
        // Short prefixes under a few shared roots, so sets overlap and touch often.
        (0u32..4, 8u8..=12)
            .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new((a << 28).into(), l).unwrap())),
    ]
}
