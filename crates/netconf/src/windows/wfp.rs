//! The Windows kill switch through the Windows Filtering Platform. The filters are the
//! ones `killswitch::windows_filters` computes; this file only makes them WFP objects.
//!
//! They are persistent, like the Linux nftables table: a provider and a sublayer of our
//! own (random keys, PERSISTENT flags) and the filters in that sublayer
//! (`FWPM_FILTER_FLAG_PERSISTENT`), added in one transaction of a non-dynamic session.
//! A crashed or killed service leaves the machine closed rather than open, and so does a
//! reboot, until culvertd starts and recovers. The journal names the provider and
//! sublayer before they exist (`Undo::DeleteWfpObjects`); [`remove`] deletes every
//! filter in the sublayer, the sublayer, then the provider, in one transaction, and what
//! is gone already counts as removed, so recovery may run any number of times.
//! Replacing the filters (new endpoints, another routing mode) is one transaction too:
//! there is no moment without a kill switch.
//!
//! UNVERIFIED on real Windows (wine has no WFP): that BFE accepts these objects and
//! conditions (e.g. the ICMP type in the local port's field at the ALE layers), that the
//! filters block and permit what `windows_filters`' tests say, that they survive
//! `taskkill /f` of culvertd and a reboot, and that recovery removes them. Check with
//! `netsh wfp show filters` and `netsh wfp show state` as an administrator.
#![allow(unsafe_code)]

use super::iphlp::wide;
use crate::Error;
use crate::journal::Undo;
use crate::killswitch::windows_filters::{self, Action, Condition, Field, Filter, Layer};
use ipnet::IpNet;
use std::ptr;
use windows_sys::Win32::Foundation::{
    FWP_E_FILTER_NOT_FOUND, FWP_E_PROVIDER_NOT_FOUND, FWP_E_SUBLAYER_NOT_FOUND, HANDLE,
};
use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform::{
    FWP_ACTION_BLOCK, FWP_ACTION_PERMIT, FWP_BYTE_ARRAY16, FWP_BYTE_ARRAY16_TYPE,
    FWP_CONDITION_FLAG_IS_LOOPBACK, FWP_CONDITION_VALUE0, FWP_CONDITION_VALUE0_0, FWP_DATA_TYPE,
    FWP_MATCH_EQUAL, FWP_MATCH_FLAGS_ALL_SET, FWP_MATCH_TYPE, FWP_UINT8, FWP_UINT16, FWP_UINT32,
    FWP_UINT64, FWP_V4_ADDR_AND_MASK, FWP_V4_ADDR_MASK, FWP_V6_ADDR_AND_MASK, FWP_V6_ADDR_MASK,
    FWP_VALUE0, FWP_VALUE0_0, FWPM_ACTION0, FWPM_CONDITION_FLAGS,
    FWPM_CONDITION_IP_LOCAL_INTERFACE, FWPM_CONDITION_IP_LOCAL_PORT, FWPM_CONDITION_IP_PROTOCOL,
    FWPM_CONDITION_IP_REMOTE_ADDRESS, FWPM_CONDITION_IP_REMOTE_PORT, FWPM_DISPLAY_DATA0,
    FWPM_FILTER_CONDITION0, FWPM_FILTER_FLAG_PERSISTENT, FWPM_FILTER0,
    FWPM_LAYER_ALE_AUTH_CONNECT_V4, FWPM_LAYER_ALE_AUTH_CONNECT_V6,
    FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4, FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6,
    FWPM_PROVIDER_FLAG_PERSISTENT, FWPM_PROVIDER0, FWPM_SESSION0, FWPM_SUBLAYER_FLAG_PERSISTENT,
    FWPM_SUBLAYER0, FwpmEngineClose0, FwpmEngineOpen0, FwpmFilterAdd0, FwpmFilterCreateEnumHandle0,
    FwpmFilterDeleteByKey0, FwpmFilterDestroyEnumHandle0, FwpmFilterEnum0, FwpmFreeMemory0,
    FwpmProviderAdd0, FwpmProviderDeleteByKey0, FwpmSubLayerAdd0, FwpmSubLayerDeleteByKey0,
    FwpmTransactionAbort0, FwpmTransactionBegin0, FwpmTransactionCommit0,
};
use windows_sys::Win32::System::Rpc::{
    RPC_C_AUTHN_WINNT, RPC_S_OK, RPC_S_UUID_LOCAL_ONLY, UuidCreate,
};
use windows_sys::core::GUID;

/// How long to wait for another program's WFP transaction before giving up.
const TRANSACTION_WAIT_MS: u32 = 15_000;
/// Filters read per enumeration call.
const ENUM_BATCH: u32 = 256;

/// One kill switch's provider and sublayer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keys {
    provider: u128,
    sublayer: u128,
}

impl Keys {
    /// Fresh random keys: nothing of another run or another tunnel can collide with them.
    pub(crate) fn generate() -> Result<Keys, Error> {
        Ok(Keys {
            provider: new_guid()?,
            sublayer: new_guid()?,
        })
    }

    /// The journal entry that removes these objects.
    pub(crate) fn undo(&self) -> Undo {
        Undo::DeleteWfpObjects {
            provider: windows_filters::guid_text(self.provider),
            sublayer: windows_filters::guid_text(self.sublayer),
        }
    }

    /// The keys a journal entry names.
    pub(crate) fn from_journal(provider: &str, sublayer: &str) -> Result<Keys, Error> {
        let parse = |text: &str| {
            windows_filters::parse_guid(text).ok_or_else(|| Error::System {
                what: "reading the kill switch's WFP keys from the journal",
                message: format!("{text:?} is not a GUID"),
            })
        };
        Ok(Keys {
            provider: parse(provider)?,
            sublayer: parse(sublayer)?,
        })
    }
}

/// Adds the provider, the sublayer and `filters`, all or nothing.
pub(crate) fn install(keys: &Keys, interface: &str, filters: &[Filter]) -> Result<(), Error> {
    let engine = Engine::open()?;
    engine.transaction(|engine| {
        engine.add_provider(keys, interface)?;
        engine.add_sublayer(keys, interface)?;
        filters
            .iter()
            .try_for_each(|filter| engine.add_filter(keys, filter))
    })
}

/// Swaps the sublayer's filters for `filters` in one transaction.
pub(crate) fn replace(keys: &Keys, filters: &[Filter]) -> Result<(), Error> {
    let engine = Engine::open()?;
    engine.transaction(|engine| {
        engine.delete_filters_in(keys.sublayer)?;
        filters
            .iter()
            .try_for_each(|filter| engine.add_filter(keys, filter))
    })
}

/// Deletes every filter in the sublayer, the sublayer and the provider; idempotent.
pub(crate) fn remove(keys: &Keys) -> Result<(), Error> {
    let engine = Engine::open()?;
    engine.transaction(|engine| {
        engine.delete_filters_in(keys.sublayer)?;
        let sublayer = GUID::from_u128(keys.sublayer);
        // SAFETY: the engine is open and the key lives for the call.
        let status = unsafe { FwpmSubLayerDeleteByKey0(engine.0, &sublayer) };
        tolerate(status, FWP_E_SUBLAYER_NOT_FOUND, "FwpmSubLayerDeleteByKey0")?;
        let provider = GUID::from_u128(keys.provider);
        // SAFETY: as above.
        let status = unsafe { FwpmProviderDeleteByKey0(engine.0, &provider) };
        tolerate(status, FWP_E_PROVIDER_NOT_FOUND, "FwpmProviderDeleteByKey0")
    })
}

/// An open, non-dynamic WFP session: what it adds stays when it closes.
struct Engine(HANDLE);

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: the handle came from FwpmEngineOpen0 and is closed only here.
        unsafe { FwpmEngineClose0(self.0) };
    }
}

impl Engine {
    fn open() -> Result<Engine, Error> {
        let mut name = wide("Culvert");
        let mut description = wide("Culvert's kill switch");
        let session = FWPM_SESSION0 {
            displayData: FWPM_DISPLAY_DATA0 {
                name: name.as_mut_ptr(),
                description: description.as_mut_ptr(),
            },
            // Not FWPM_SESSION_FLAG_DYNAMIC: the objects must outlive the session.
            flags: 0,
            txnWaitTimeoutInMSec: TRANSACTION_WAIT_MS,
            ..Default::default()
        };
        let mut handle: HANDLE = ptr::null_mut();
        // SAFETY: the session and its strings outlive the call; `handle` is a valid out
        // pointer. A null server name is the local machine; no auth identity needed.
        let status = unsafe {
            FwpmEngineOpen0(
                ptr::null(),
                RPC_C_AUTHN_WINNT,
                ptr::null(),
                &session,
                &mut handle,
            )
        };
        check(status, "FwpmEngineOpen0 (opening the filtering engine)")?;
        Ok(Engine(handle))
    }

    /// Runs `work` in a transaction: committed if it succeeds, aborted if not.
    fn transaction(&self, work: impl FnOnce(&Engine) -> Result<(), Error>) -> Result<(), Error> {
        // SAFETY: the engine is open; 0 asks for a read-write transaction.
        let status = unsafe { FwpmTransactionBegin0(self.0, 0) };
        check(status, "FwpmTransactionBegin0")?;
        let committed = work(self).and_then(|()| {
            // SAFETY: a transaction is open on this engine.
            let status = unsafe { FwpmTransactionCommit0(self.0) };
            check(status, "FwpmTransactionCommit0")
        });
        if committed.is_err() {
            // SAFETY: as above; aborting an ended transaction only returns an error.
            unsafe { FwpmTransactionAbort0(self.0) };
        }
        committed
    }

    fn add_provider(&self, keys: &Keys, interface: &str) -> Result<(), Error> {
        let mut name = wide("Culvert");
        let mut description = wide(&format!("Culvert's kill switch for {interface}"));
        let provider = FWPM_PROVIDER0 {
            providerKey: GUID::from_u128(keys.provider),
            displayData: FWPM_DISPLAY_DATA0 {
                name: name.as_mut_ptr(),
                description: description.as_mut_ptr(),
            },
            flags: FWPM_PROVIDER_FLAG_PERSISTENT,
            ..Default::default()
        };
        // SAFETY: `provider` and its strings outlive the call; no security descriptor.
        let status = unsafe { FwpmProviderAdd0(self.0, &provider, ptr::null_mut()) };
        check(status, "FwpmProviderAdd0 (the kill switch's provider)")
    }

    fn add_sublayer(&self, keys: &Keys, interface: &str) -> Result<(), Error> {
        let mut name = wide(&format!("Culvert kill switch ({interface})"));
        let mut description = wide("Blocks everything outside the tunnel but what it needs");
        let mut provider = GUID::from_u128(keys.provider);
        let sublayer = FWPM_SUBLAYER0 {
            subLayerKey: GUID::from_u128(keys.sublayer),
            displayData: FWPM_DISPLAY_DATA0 {
                name: name.as_mut_ptr(),
                description: description.as_mut_ptr(),
            },
            flags: FWPM_SUBLAYER_FLAG_PERSISTENT,
            providerKey: &mut provider,
            // Above other sublayers, so our blocks are weighed before their permits.
            weight: u16::MAX,
            ..Default::default()
        };
        // SAFETY: `sublayer`, its strings and the provider key outlive the call.
        let status = unsafe { FwpmSubLayerAdd0(self.0, &sublayer, ptr::null_mut()) };
        check(status, "FwpmSubLayerAdd0 (the kill switch's sublayer)")
    }

    fn add_filter(&self, keys: &Keys, filter: &Filter) -> Result<(), Error> {
        let mut provider = GUID::from_u128(keys.provider);
        let mut wire = Wire::new(filter);
        let mut name = wide(&filter.name);
        let mut description = wide("Culvert kill switch");
        let filter0 = wire.filter0(
            keys,
            &mut provider,
            FWPM_DISPLAY_DATA0 {
                name: name.as_mut_ptr(),
                description: description.as_mut_ptr(),
            },
        );
        let mut id = 0_u64;
        // SAFETY: `filter0` points at `wire`'s conditions and values, the strings and
        // the provider key, all alive and unmoved for the call; no security descriptor.
        let status = unsafe { FwpmFilterAdd0(self.0, &filter0, ptr::null_mut(), &mut id) };
        check(status, "FwpmFilterAdd0 (a kill switch filter)")
    }

    /// Deletes every filter in `sublayer`, whatever layer it is at.
    fn delete_filters_in(&self, sublayer: u128) -> Result<(), Error> {
        for key in self.filters_in(sublayer)? {
            // SAFETY: the engine is open and the key lives for the call.
            let status = unsafe { FwpmFilterDeleteByKey0(self.0, &key) };
            tolerate(status, FWP_E_FILTER_NOT_FOUND, "FwpmFilterDeleteByKey0")?;
        }
        Ok(())
    }

    /// The keys of the filters in `sublayer`: every filter on the machine is looked
    /// at (an enumeration template must name one layer), ours are picked by sublayer.
    fn filters_in(&self, sublayer: u128) -> Result<Vec<GUID>, Error> {
        let mut handle: HANDLE = ptr::null_mut();
        // SAFETY: the engine is open; a null template enumerates every filter.
        let status = unsafe { FwpmFilterCreateEnumHandle0(self.0, ptr::null(), &mut handle) };
        check(status, "FwpmFilterCreateEnumHandle0")?;
        let mut keys = Vec::new();
        let result = loop {
            let mut entries: *mut *mut FWPM_FILTER0 = ptr::null_mut();
            let mut count = 0_u32;
            // SAFETY: the enumeration handle is open; the out pointers are valid.
            let status =
                unsafe { FwpmFilterEnum0(self.0, handle, ENUM_BATCH, &mut entries, &mut count) };
            if let Err(error) = check(status, "FwpmFilterEnum0") {
                break Err(error);
            }
            if !entries.is_null() {
                for index in 0..count as usize {
                    // SAFETY: WFP returned `count` valid filter pointers at `entries`,
                    // read before the memory is freed below.
                    let filter = unsafe { &**entries.add(index) };
                    if guid_value(&filter.subLayerKey) == sublayer {
                        keys.push(filter.filterKey);
                    }
                }
                // SAFETY: `entries` was allocated by FwpmFilterEnum0 and is not used
                // after this.
                unsafe { FwpmFreeMemory0(ptr::from_mut(&mut entries).cast()) };
            }
            if count < ENUM_BATCH {
                break Ok(keys);
            }
        };
        // SAFETY: the enumeration handle came from this engine and is destroyed once.
        unsafe { FwpmFilterDestroyEnumHandle0(self.0, handle) };
        result
    }
}

/// One filter's conditions in WFP's form, with the values some of them point to.
struct Wire {
    layer: GUID,
    action: u32,
    weight: u8,
    /// The pointed-to values, one per condition: only held, for `conditions` points
    /// into them. Filled before any pointer is taken and never resized after, so the
    /// pointers stay valid while `self` lives.
    _values: Vec<Pointee>,
    conditions: Vec<FWPM_FILTER_CONDITION0>,
}

/// What a condition's value points to, when it does not fit in the value itself.
#[derive(Clone, Copy)]
enum Pointee {
    None,
    U64(u64),
    Bytes16(FWP_BYTE_ARRAY16),
    V4Mask(FWP_V4_ADDR_AND_MASK),
    V6Mask(FWP_V6_ADDR_AND_MASK),
}

impl Wire {
    fn new(filter: &Filter) -> Wire {
        let mut values: Vec<Pointee> = filter.conditions.iter().map(|c| pointee(*c)).collect();
        let conditions = filter
            .conditions
            .iter()
            .zip(values.iter_mut())
            .map(|(condition, pointee)| condition0(*condition, pointee))
            .collect();
        Wire {
            layer: layer_key(filter.layer),
            action: match filter.action {
                Action::Permit => FWP_ACTION_PERMIT,
                Action::Block => FWP_ACTION_BLOCK,
            },
            weight: filter.weight,
            _values: values,
            conditions,
        }
    }

    /// The filter, pointing into `self` and at `provider`: valid while both are.
    fn filter0(
        &mut self,
        keys: &Keys,
        provider: &mut GUID,
        display: FWPM_DISPLAY_DATA0,
    ) -> FWPM_FILTER0 {
        FWPM_FILTER0 {
            // Zero: WFP makes up the filter's key.
            filterKey: GUID::default(),
            displayData: display,
            flags: FWPM_FILTER_FLAG_PERSISTENT,
            providerKey: provider,
            layerKey: self.layer,
            subLayerKey: GUID::from_u128(keys.sublayer),
            weight: FWP_VALUE0 {
                r#type: FWP_UINT8,
                Anonymous: FWP_VALUE0_0 { uint8: self.weight },
            },
            numFilterConditions: u32::try_from(self.conditions.len()).expect("a few conditions"),
            filterCondition: if self.conditions.is_empty() {
                ptr::null_mut()
            } else {
                self.conditions.as_mut_ptr()
            },
            action: FWPM_ACTION0 {
                r#type: self.action,
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

fn layer_key(layer: Layer) -> GUID {
    match layer {
        Layer::ConnectV4 => FWPM_LAYER_ALE_AUTH_CONNECT_V4,
        Layer::RecvAcceptV4 => FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4,
        Layer::ConnectV6 => FWPM_LAYER_ALE_AUTH_CONNECT_V6,
        Layer::RecvAcceptV6 => FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6,
    }
}

fn field_key(field: Field) -> GUID {
    match field {
        Field::LocalInterface => FWPM_CONDITION_IP_LOCAL_INTERFACE,
        Field::Flags => FWPM_CONDITION_FLAGS,
        Field::Protocol => FWPM_CONDITION_IP_PROTOCOL,
        Field::RemoteAddress => FWPM_CONDITION_IP_REMOTE_ADDRESS,
        Field::RemotePort => FWPM_CONDITION_IP_REMOTE_PORT,
        // Also FWPM_CONDITION_ICMP_TYPE, which the SDK defines as this one.
        Field::LocalPort => FWPM_CONDITION_IP_LOCAL_PORT,
    }
}

fn pointee(condition: Condition) -> Pointee {
    match condition {
        Condition::Interface(luid) => Pointee::U64(luid),
        Condition::RemoteAddress(IpNet::V4(net)) if net.prefix_len() < 32 => {
            Pointee::V4Mask(FWP_V4_ADDR_AND_MASK {
                addr: u32::from(net.network()),
                mask: u32::from(net.netmask()),
            })
        }
        Condition::RemoteAddress(IpNet::V6(net)) if net.prefix_len() == 128 => {
            Pointee::Bytes16(FWP_BYTE_ARRAY16 {
                byteArray16: net.addr().octets(),
            })
        }
        Condition::RemoteAddress(IpNet::V6(net)) => Pointee::V6Mask(FWP_V6_ADDR_AND_MASK {
            addr: net.network().octets(),
            prefixLength: net.prefix_len(),
        }),
        _ => Pointee::None,
    }
}

/// The WFP condition for `condition`; values that do not fit inline point at `pointee`.
fn condition0(condition: Condition, pointee: &mut Pointee) -> FWPM_FILTER_CONDITION0 {
    let (match_type, kind, value): (FWP_MATCH_TYPE, FWP_DATA_TYPE, FWP_CONDITION_VALUE0_0) =
        match (condition, pointee) {
            (Condition::Loopback, _) => (
                FWP_MATCH_FLAGS_ALL_SET,
                FWP_UINT32,
                FWP_CONDITION_VALUE0_0 {
                    uint32: FWP_CONDITION_FLAG_IS_LOOPBACK,
                },
            ),
            (Condition::Protocol(protocol), _) => (
                FWP_MATCH_EQUAL,
                FWP_UINT8,
                FWP_CONDITION_VALUE0_0 { uint8: protocol },
            ),
            (Condition::RemotePort(port) | Condition::LocalPort(port), _) => (
                FWP_MATCH_EQUAL,
                FWP_UINT16,
                FWP_CONDITION_VALUE0_0 { uint16: port },
            ),
            (Condition::IcmpType(icmp_type), _) => (
                FWP_MATCH_EQUAL,
                FWP_UINT16,
                FWP_CONDITION_VALUE0_0 {
                    uint16: u16::from(icmp_type),
                },
            ),
            // IPv4 addresses go in host byte order, as WFP takes them.
            (Condition::RemoteAddress(IpNet::V4(net)), Pointee::None) => (
                FWP_MATCH_EQUAL,
                FWP_UINT32,
                FWP_CONDITION_VALUE0_0 {
                    uint32: u32::from(net.addr()),
                },
            ),
            (_, Pointee::U64(value)) => (
                FWP_MATCH_EQUAL,
                FWP_UINT64,
                FWP_CONDITION_VALUE0_0 { uint64: value },
            ),
            (_, Pointee::Bytes16(value)) => (
                FWP_MATCH_EQUAL,
                FWP_BYTE_ARRAY16_TYPE,
                FWP_CONDITION_VALUE0_0 { byteArray16: value },
            ),
            (_, Pointee::V4Mask(value)) => (
                FWP_MATCH_EQUAL,
                FWP_V4_ADDR_MASK,
                FWP_CONDITION_VALUE0_0 { v4AddrMask: value },
            ),
            (_, Pointee::V6Mask(value)) => (
                FWP_MATCH_EQUAL,
                FWP_V6_ADDR_MASK,
                FWP_CONDITION_VALUE0_0 { v6AddrMask: value },
            ),
            (Condition::Interface(_) | Condition::RemoteAddress(_), Pointee::None) => {
                unreachable!("`pointee` gives these a value to point to")
            }
        };
    FWPM_FILTER_CONDITION0 {
        fieldKey: field_key(condition.field()),
        matchType: match_type,
        conditionValue: FWP_CONDITION_VALUE0 {
            r#type: kind,
            Anonymous: value,
        },
    }
}

fn new_guid() -> Result<u128, Error> {
    let mut guid = GUID::default();
    // SAFETY: `guid` is a valid out pointer for the call.
    let status = unsafe { UuidCreate(&mut guid) };
    // A locally unique one is enough: WFP objects are local.
    if status != RPC_S_OK && status != RPC_S_UUID_LOCAL_ONLY {
        return Err(Error::System {
            what: "UuidCreate (a key for the kill switch)",
            message: format!("RPC status {status}"),
        });
    }
    Ok(guid_value(&guid))
}

/// The 128-bit value `GUID::from_u128` took.
fn guid_value(guid: &GUID) -> u128 {
    (u128::from(guid.data1) << 96)
        | (u128::from(guid.data2) << 80)
        | (u128::from(guid.data3) << 64)
        | u128::from(u64::from_be_bytes(guid.data4))
}

fn check(status: u32, what: &'static str) -> Result<(), Error> {
    if status == 0 {
        return Ok(());
    }
    Err(Error::System {
        what,
        // The FWP_E_* codes have system messages of their own.
        message: format!(
            "{} ({status:#010x})",
            std::io::Error::from_raw_os_error(status as i32)
        ),
    })
}

/// `check`, with `gone` (an HRESULT such as FWP_E_FILTER_NOT_FOUND) meaning done.
fn tolerate(status: u32, gone: i32, what: &'static str) -> Result<(), Error> {
    if status == gone as u32 {
        return Ok(());
    }
    check(status, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::killswitch::windows_filters::{Spec, filters};

    /// The translation, checked without WFP (which wine lacks): every condition's
    /// field, type and value as BFE will read them.
    #[test]
    fn filters_translate_into_the_wfp_conditions_they_describe() {
        let endpoints = ["192.0.2.2:51820".parse().unwrap()];
        let dns = ["10.0.0.1".parse().unwrap(), "fd00::53".parse().unwrap()];
        let all = filters(&Spec {
            interface: "wg0",
            luid: 0x1122_3344_5566_7788,
            endpoints: &endpoints,
            full: true,
            dns: &dns,
        });
        let keys = Keys {
            provider: 0x6375_6c76_0000_0000_0000_0000_0000_0001,
            sublayer: 0x6375_6c76_0000_0000_0000_0000_0000_0002,
        };
        let mut seen_luid = false;
        let mut seen_v6_server = false;
        let mut seen_link_local = false;
        for filter in &all {
            let mut wire = Wire::new(filter);
            let mut provider = GUID::from_u128(keys.provider);
            let filter0 = wire.filter0(&keys, &mut provider, FWPM_DISPLAY_DATA0::default());
            assert_eq!(guid_value(&filter0.subLayerKey), keys.sublayer);
            assert_eq!(filter0.flags, FWPM_FILTER_FLAG_PERSISTENT);
            // SAFETY: the weight was written as a uint8.
            assert_eq!(unsafe { filter0.weight.Anonymous.uint8 }, filter.weight);
            assert_eq!(
                filter0.numFilterConditions as usize,
                filter.conditions.len()
            );
            for (index, condition) in filter.conditions.iter().enumerate() {
                // SAFETY: `filterCondition` points at `numFilterConditions` conditions
                // in `wire`, alive here; each union member read is the one its type
                // says was written.
                unsafe {
                    let wire_condition = &*filter0.filterCondition.add(index);
                    let value = &wire_condition.conditionValue;
                    assert_eq!(
                        guid_value(&wire_condition.fieldKey),
                        guid_value(&field_key(condition.field()))
                    );
                    match *condition {
                        Condition::Interface(luid) => {
                            assert_eq!(value.r#type, FWP_UINT64);
                            assert_eq!(*value.Anonymous.uint64, luid);
                            seen_luid = true;
                        }
                        Condition::RemoteAddress(IpNet::V4(net)) if net.prefix_len() == 32 => {
                            assert_eq!(value.r#type, FWP_UINT32);
                            assert_eq!(value.Anonymous.uint32, u32::from(net.addr()));
                        }
                        Condition::RemoteAddress(IpNet::V6(net)) if net.prefix_len() == 128 => {
                            assert_eq!(value.r#type, FWP_BYTE_ARRAY16_TYPE);
                            let bytes = (*value.Anonymous.byteArray16).byteArray16;
                            assert_eq!(bytes, net.addr().octets());
                            seen_v6_server |= net.addr() == dns[1];
                        }
                        Condition::RemoteAddress(IpNet::V6(net)) => {
                            assert_eq!(value.r#type, FWP_V6_ADDR_MASK);
                            let mask = *value.Anonymous.v6AddrMask;
                            assert_eq!(mask.addr, net.network().octets());
                            assert_eq!(mask.prefixLength, net.prefix_len());
                            seen_link_local |= mask.prefixLength == 10;
                        }
                        Condition::RemotePort(port) | Condition::LocalPort(port) => {
                            assert_eq!(value.r#type, FWP_UINT16);
                            assert_eq!(value.Anonymous.uint16, port);
                        }
                        Condition::IcmpType(icmp_type) => {
                            assert_eq!(value.r#type, FWP_UINT16);
                            assert_eq!(value.Anonymous.uint16, u16::from(icmp_type));
                        }
                        Condition::Protocol(protocol) => {
                            assert_eq!(value.r#type, FWP_UINT8);
                            assert_eq!(value.Anonymous.uint8, protocol);
                        }
                        Condition::Loopback => {
                            assert_eq!(wire_condition.matchType, FWP_MATCH_FLAGS_ALL_SET);
                            assert_eq!(value.Anonymous.uint32, FWP_CONDITION_FLAG_IS_LOOPBACK);
                        }
                        Condition::RemoteAddress(IpNet::V4(_)) => {
                            assert_eq!(value.r#type, FWP_V4_ADDR_MASK);
                        }
                    }
                }
            }
            if filter.conditions.is_empty() {
                assert!(filter0.filterCondition.is_null());
                assert_eq!(filter0.action.r#type, FWP_ACTION_BLOCK);
            }
        }
        assert!(seen_luid && seen_v6_server && seen_link_local);
    }

    #[test]
    fn keys_survive_the_journal_and_are_unique() {
        let keys = Keys::generate().unwrap();
        assert_ne!(keys.provider, keys.sublayer);
        assert_ne!(Keys::generate().unwrap(), keys);
        let Undo::DeleteWfpObjects { provider, sublayer } = keys.undo() else {
            panic!("not the kill switch's undo")
        };
        assert_eq!(Keys::from_journal(&provider, &sublayer).unwrap(), keys);
        let error = Keys::from_journal("nonsense", &sublayer).unwrap_err();
        assert!(
            error.to_string().contains("\"nonsense\" is not a GUID"),
            "{error}"
        );
    }
}
