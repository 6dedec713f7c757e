//! Windows IP Helper: addresses, routes, interface metric and MTU, and per-interface DNS
//! (`SetInterfaceDnsSettings`, Windows 10 2004 and later).
//!
//! Compiles for x86_64-pc-windows-gnu. UNVERIFIED on real Windows (wine has no IP
//! Helper to speak of): that the rows are accepted as filled in here (on-link next hops
//! as the unspecified address, metric 0, `SitePrefixLength` 0 for IPv4), that
//! `GetBestRoute2` gives the endpoint's way out before the tunnel's routes exist, that
//! deleting a route or DNS of a vanished adapter reports the "not found" codes tolerated
//! here, and the GUID text `SetInterfaceDnsSettings` is given.
#![allow(unsafe_code)]

use crate::{Dns, Error};
use ipnet::IpNet;
use std::net::IpAddr;
use windows_sys::Win32::Foundation::{
    ERROR_FILE_NOT_FOUND, ERROR_NOT_FOUND, ERROR_OBJECT_ALREADY_EXISTS, NO_ERROR, WIN32_ERROR,
};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    ConvertInterfaceAliasToLuid, ConvertInterfaceLuidToGuid, CreateIpForwardEntry2,
    CreateUnicastIpAddressEntry, DNS_INTERFACE_SETTINGS, DNS_INTERFACE_SETTINGS_VERSION1,
    DNS_SETTING_IPV6, DNS_SETTING_NAMESERVER, DNS_SETTING_SEARCHLIST, DeleteIpForwardEntry2,
    GetBestRoute2, GetIpInterfaceEntry, InitializeIpForwardEntry, InitializeIpInterfaceEntry,
    InitializeUnicastIpAddressEntry, MIB_IPFORWARD_ROW2, MIB_IPINTERFACE_ROW,
    MIB_UNICASTIPADDRESS_ROW, SetInterfaceDnsSettings, SetIpInterfaceEntry,
};
use windows_sys::Win32::NetworkManagement::Ndis::NET_LUID_LH;
use windows_sys::Win32::Networking::WinSock::{
    AF_INET, AF_INET6, IN_ADDR, IN_ADDR_0, IN6_ADDR, IN6_ADDR_0, IpPrefixOriginManual,
    IpSuffixOriginManual, MIB_IPPROTO_NETMGMT, SOCKADDR_IN, SOCKADDR_IN6, SOCKADDR_IN6_0,
    SOCKADDR_INET,
};
use windows_sys::core::GUID;

/// The LUID of the adapter called `alias` (the Wintun adapter's name).
pub(crate) fn luid_of(alias: &str) -> Result<u64, Error> {
    let wide = wide(alias);
    let mut luid = NET_LUID_LH::default();
    // SAFETY: `wide` is a NUL-terminated UTF-16 string and `luid` a valid out pointer,
    // both alive for the call.
    let status = unsafe { ConvertInterfaceAliasToLuid(wide.as_ptr(), &mut luid) };
    if status != NO_ERROR {
        return Err(Error::NoSuchInterface(alias.to_owned()));
    }
    // SAFETY: every bit pattern of the union is a valid u64.
    Ok(unsafe { luid.Value })
}

/// The interface GUID (what the DNS settings are keyed by), as 32 hex digits.
pub(crate) fn guid_of(luid: u64) -> Result<String, Error> {
    let luid = NET_LUID_LH { Value: luid };
    let mut guid = GUID::default();
    // SAFETY: both pointers are valid for the call.
    let status = unsafe { ConvertInterfaceLuidToGuid(&luid, &mut guid) };
    check(status, "ConvertInterfaceLuidToGuid")?;
    let value = (u128::from(guid.data1) << 96)
        | (u128::from(guid.data2) << 80)
        | (u128::from(guid.data3) << 64)
        | u128::from(u64::from_be_bytes(guid.data4));
    Ok(format!("{value:032x}"))
}

/// Adds an address to the interface; one already there is fine.
pub(crate) fn add_address(luid: u64, address: IpNet) -> Result<(), Error> {
    let mut row = MIB_UNICASTIPADDRESS_ROW::default();
    // SAFETY: `row` is a valid, writable row.
    unsafe { InitializeUnicastIpAddressEntry(&mut row) };
    row.InterfaceLuid = NET_LUID_LH { Value: luid };
    row.Address = sockaddr(address.addr());
    row.OnLinkPrefixLength = address.prefix_len();
    row.PrefixOrigin = IpPrefixOriginManual;
    row.SuffixOrigin = IpSuffixOriginManual;
    // SAFETY: `row` is initialised and alive for the call.
    let status = unsafe { CreateUnicastIpAddressEntry(&row) };
    ignore(
        status,
        &[ERROR_OBJECT_ALREADY_EXISTS],
        "CreateUnicastIpAddressEntry",
    )
}

/// Adds (or deletes) a route to `destination` on `luid`, on-link or via `next_hop`.
/// Adding what exists and deleting what is gone succeed: undo and redo are idempotent.
pub(crate) fn route(
    add: bool,
    luid: u64,
    destination: IpNet,
    next_hop: Option<IpAddr>,
) -> Result<(), Error> {
    let mut row = MIB_IPFORWARD_ROW2::default();
    // SAFETY: `row` is a valid, writable row.
    unsafe { InitializeIpForwardEntry(&mut row) };
    row.InterfaceLuid = NET_LUID_LH { Value: luid };
    row.DestinationPrefix.Prefix = sockaddr(destination.network());
    row.DestinationPrefix.PrefixLength = destination.prefix_len();
    row.NextHop = match next_hop {
        Some(hop) => sockaddr(hop),
        // On-link: the unspecified address of the destination's family.
        None => sockaddr(match destination {
            IpNet::V4(_) => IpAddr::from([0, 0, 0, 0]),
            IpNet::V6(_) => IpAddr::from([0_u16; 8]),
        }),
    };
    row.Metric = 0;
    row.Protocol = MIB_IPPROTO_NETMGMT;
    if add {
        // SAFETY: `row` is initialised and alive for the call.
        let status = unsafe { CreateIpForwardEntry2(&row) };
        ignore(
            status,
            &[ERROR_OBJECT_ALREADY_EXISTS],
            "CreateIpForwardEntry2",
        )
    } else {
        // SAFETY: as above.
        let status = unsafe { DeleteIpForwardEntry2(&row) };
        ignore(
            status,
            &[ERROR_NOT_FOUND, ERROR_FILE_NOT_FOUND],
            "DeleteIpForwardEntry2",
        )
    }
}

/// The interface and next hop the system uses now to reach `destination`: where an
/// endpoint's host route must point to stay outside a full tunnel.
pub(crate) fn best_route(destination: IpAddr) -> Result<(u64, Option<IpAddr>), Error> {
    let target = sockaddr(destination);
    let mut row = MIB_IPFORWARD_ROW2::default();
    let mut source = SOCKADDR_INET::default();
    // SAFETY: the input pointers may be null (any interface, any source); the others
    // point at valid values alive for the call.
    let status = unsafe {
        GetBestRoute2(
            std::ptr::null(),
            0,
            std::ptr::null(),
            &target,
            0,
            &mut row,
            &mut source,
        )
    };
    check(status, "GetBestRoute2")?;
    // SAFETY: the union was filled in by the call; every bit pattern is a valid u64.
    let luid = unsafe { row.InterfaceLuid.Value };
    let hop = from_sockaddr(&row.NextHop).filter(|hop| !hop.is_unspecified());
    Ok((luid, hop))
}

/// MTU and metric for both families; `metric` None: automatic. A family the
/// interface does not run is skipped.
pub(crate) fn set_interface(luid: u64, mtu: u32, metric: Option<u32>) -> Result<(), Error> {
    for family in [AF_INET, AF_INET6] {
        let mut row = MIB_IPINTERFACE_ROW::default();
        // SAFETY: `row` is a valid, writable row.
        unsafe { InitializeIpInterfaceEntry(&mut row) };
        row.Family = family;
        row.InterfaceLuid = NET_LUID_LH { Value: luid };
        // SAFETY: `row` names the interface and family; the call fills in the rest.
        let status = unsafe { GetIpInterfaceEntry(&mut row) };
        if status == ERROR_NOT_FOUND {
            continue;
        }
        check(status, "GetIpInterfaceEntry")?;
        row.NlMtu = mtu;
        row.UseAutomaticMetric = metric.is_none();
        row.Metric = metric.unwrap_or(0);
        if family == AF_INET {
            // Documented: must be 0 for IPv4 when setting.
            row.SitePrefixLength = 0;
        }
        // SAFETY: `row` came from GetIpInterfaceEntry and is alive for the call.
        let status = unsafe { SetIpInterfaceEntry(&mut row) };
        check(status, "SetIpInterfaceEntry")?;
    }
    Ok(())
}

/// Sets (or with None, clears) the interface's DNS servers and search list.
pub(crate) fn set_dns(guid: &str, dns: Option<&Dns>) -> Result<(), Error> {
    let value = u128::from_str_radix(guid, 16).map_err(|_| Error::System {
        what: "reading an interface GUID",
        message: format!("{guid:?} is not 32 hex digits"),
    })?;
    let guid = GUID::from_u128(value);
    let servers = |v6: bool| -> String {
        dns.map(|dns| {
            let list: Vec<String> = dns
                .servers
                .iter()
                .filter(|s| s.is_ipv6() == v6)
                .map(IpAddr::to_string)
                .collect();
            list.join(",")
        })
        .unwrap_or_default()
    };
    let search = dns.map(|dns| dns.search.join(",")).unwrap_or_default();
    for v6 in [false, true] {
        let mut name_servers = wide(&servers(v6));
        let mut search_list = wide(&search);
        let mut settings = DNS_INTERFACE_SETTINGS {
            Version: DNS_INTERFACE_SETTINGS_VERSION1,
            Flags: u64::from(DNS_SETTING_NAMESERVER),
            NameServer: name_servers.as_mut_ptr(),
            ..Default::default()
        };
        if v6 {
            settings.Flags |= u64::from(DNS_SETTING_IPV6);
        } else {
            settings.Flags |= u64::from(DNS_SETTING_SEARCHLIST);
            settings.SearchList = search_list.as_mut_ptr();
        }
        // SAFETY: the strings are NUL-terminated and outlive the call.
        let status = unsafe { SetInterfaceDnsSettings(guid, &settings) };
        if dns.is_none() && [ERROR_NOT_FOUND, ERROR_FILE_NOT_FOUND].contains(&status) {
            // The adapter is gone, and its settings with it.
            return Ok(());
        }
        check(status, "SetInterfaceDnsSettings")?;
    }
    Ok(())
}

fn sockaddr(address: IpAddr) -> SOCKADDR_INET {
    match address {
        IpAddr::V4(v4) => SOCKADDR_INET {
            Ipv4: SOCKADDR_IN {
                sin_family: AF_INET,
                sin_port: 0,
                sin_addr: IN_ADDR {
                    // Network byte order: the octets as they lie in memory.
                    S_un: IN_ADDR_0 {
                        S_addr: u32::from_ne_bytes(v4.octets()),
                    },
                },
                sin_zero: [0; 8],
            },
        },
        IpAddr::V6(v6) => SOCKADDR_INET {
            Ipv6: SOCKADDR_IN6 {
                sin6_family: AF_INET6,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: IN6_ADDR {
                    u: IN6_ADDR_0 { Byte: v6.octets() },
                },
                Anonymous: SOCKADDR_IN6_0 { sin6_scope_id: 0 },
            },
        },
    }
}

fn from_sockaddr(address: &SOCKADDR_INET) -> Option<IpAddr> {
    // SAFETY: the family field is shared by every member; the member read matches it.
    unsafe {
        match address.si_family {
            AF_INET => Some(IpAddr::from(
                address.Ipv4.sin_addr.S_un.S_addr.to_ne_bytes(),
            )),
            AF_INET6 => Some(IpAddr::from(address.Ipv6.sin6_addr.u.Byte)),
            _ => None,
        }
    }
}

pub(crate) fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().chain(std::iter::once(0)).collect()
}

fn check(status: WIN32_ERROR, what: &'static str) -> Result<(), Error> {
    if status == NO_ERROR {
        return Ok(());
    }
    Err(Error::System {
        what,
        message: std::io::Error::from_raw_os_error(status as i32).to_string(),
    })
}

fn ignore(status: WIN32_ERROR, harmless: &[WIN32_ERROR], what: &'static str) -> Result<(), Error> {
    if harmless.contains(&status) {
        return Ok(());
    }
    check(status, what)
}
