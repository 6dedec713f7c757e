//! The Windows kill switch through the Windows Filtering Platform (unverified: written
//! without a Windows machine to run it on). Filters live in a dynamic session: Windows
//! removes them when the engine handle closes, which includes the service dying, so
//! nothing needs journaling and a crash cannot leave the machine cut off.
//!
//! In a sublayer of our own, at the connect and receive-accept layers of both
//! families: permit the tunnel interface, loopback, the endpoints' UDP flows and DHCP
//! (weight 15); block everything else (weight 0).
#![allow(unsafe_code)]

use super::iphlp::wide;
use crate::Error;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform::{
    FWP_ACTION_BLOCK, FWP_ACTION_PERMIT, FWP_ACTION_TYPE, FWP_BYTE_ARRAY16, FWP_BYTE_ARRAY16_TYPE,
    FWP_CONDITION_FLAG_IS_LOOPBACK, FWP_CONDITION_VALUE0, FWP_CONDITION_VALUE0_0, FWP_MATCH_EQUAL,
    FWP_MATCH_FLAGS_ALL_SET, FWP_UINT8, FWP_UINT16, FWP_UINT32, FWP_UINT64, FWP_VALUE0,
    FWP_VALUE0_0, FWPM_ACTION0, FWPM_CONDITION_FLAGS, FWPM_CONDITION_IP_LOCAL_INTERFACE,
    FWPM_CONDITION_IP_LOCAL_PORT, FWPM_CONDITION_IP_PROTOCOL, FWPM_CONDITION_IP_REMOTE_ADDRESS,
    FWPM_CONDITION_IP_REMOTE_PORT, FWPM_DISPLAY_DATA0, FWPM_FILTER_CONDITION0, FWPM_FILTER0,
    FWPM_LAYER_ALE_AUTH_CONNECT_V4, FWPM_LAYER_ALE_AUTH_CONNECT_V6,
    FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4, FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6,
    FWPM_SESSION_FLAG_DYNAMIC, FWPM_SESSION0, FWPM_SUBLAYER0, FwpmEngineClose0, FwpmEngineOpen0,
    FwpmFilterAdd0, FwpmSubLayerAdd0, FwpmTransactionAbort0, FwpmTransactionBegin0,
    FwpmTransactionCommit0,
};
use windows_sys::Win32::System::Rpc::RPC_C_AUTHN_WINNT;
use windows_sys::core::GUID;

const IPPROTO_UDP: u8 = 17;
const PERMIT_WEIGHT: u8 = 15;
const BLOCK_WEIGHT: u8 = 0;
/// Our sublayers' keys: this prefix, a generation, and the tunnel's LUID in the low 64
/// bits. Unique per session, so two tunnels' kill switches do not collide, nor a
/// replacement (new endpoints) with the session it replaces while both are open.
const SUBLAYER_PREFIX: u128 = 0x6375_6c76_0000_0000_0000_0000_0000_0000;
static GENERATION: AtomicU32 = AtomicU32::new(0);

/// An open WFP session holding one tunnel's kill switch; closing it removes the filters.
pub(crate) struct KillSwitch {
    engine: HANDLE,
}

// SAFETY: the engine handle is an opaque token the WFP API accepts from any thread; it
// is only used through &mut self or on drop.
unsafe impl Send for KillSwitch {}

impl std::fmt::Debug for KillSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KillSwitch").finish_non_exhaustive()
    }
}

impl Drop for KillSwitch {
    fn drop(&mut self) {
        // SAFETY: `engine` came from FwpmEngineOpen0 and is closed only here.
        unsafe { FwpmEngineClose0(self.engine) };
    }
}

impl KillSwitch {
    /// Opens a dynamic session and installs the filters in one transaction.
    pub(crate) fn new(tunnel_luid: u64, endpoints: &[SocketAddr]) -> Result<Self, Error> {
        let mut name = wide("Culvert kill switch");
        let session = FWPM_SESSION0 {
            flags: FWPM_SESSION_FLAG_DYNAMIC,
            displayData: FWPM_DISPLAY_DATA0 {
                name: name.as_mut_ptr(),
                description: name.as_mut_ptr(),
            },
            ..Default::default()
        };
        let mut engine: HANDLE = std::ptr::null_mut();
        // SAFETY: the session and its strings outlive the call; `engine` is a valid out
        // pointer. A null server name means the local machine.
        let status = unsafe {
            FwpmEngineOpen0(
                std::ptr::null(),
                RPC_C_AUTHN_WINNT,
                std::ptr::null(),
                &session,
                &mut engine,
            )
        };
        check(status, "FwpmEngineOpen0")?;
        let kill_switch = Self { engine };
        // SAFETY: `engine` is open.
        let status = unsafe { FwpmTransactionBegin0(engine, 0) };
        check(status, "FwpmTransactionBegin0")?;
        match kill_switch.add_all(tunnel_luid, endpoints) {
            Ok(()) => {
                // SAFETY: a transaction is open on `engine`.
                let status = unsafe { FwpmTransactionCommit0(engine) };
                check(status, "FwpmTransactionCommit0")?;
            }
            Err(error) => {
                // SAFETY: a transaction is open on `engine`.
                unsafe { FwpmTransactionAbort0(engine) };
                return Err(error);
            }
        }
        Ok(kill_switch)
    }

    fn add_all(&self, tunnel_luid: u64, endpoints: &[SocketAddr]) -> Result<(), Error> {
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        let sublayer = GUID::from_u128(
            SUBLAYER_PREFIX | (u128::from(generation) << 64) | u128::from(tunnel_luid),
        );
        let mut name = wide("Culvert kill switch");
        let layer = FWPM_SUBLAYER0 {
            subLayerKey: sublayer,
            displayData: FWPM_DISPLAY_DATA0 {
                name: name.as_mut_ptr(),
                description: name.as_mut_ptr(),
            },
            weight: u16::MAX,
            ..Default::default()
        };
        // SAFETY: `layer` and its strings outlive the call; no security descriptor.
        let status = unsafe { FwpmSubLayerAdd0(self.engine, &layer, std::ptr::null_mut()) };
        check(status, "FwpmSubLayerAdd0")?;

        let v4_layers = [
            FWPM_LAYER_ALE_AUTH_CONNECT_V4,
            FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4,
        ];
        let v6_layers = [
            FWPM_LAYER_ALE_AUTH_CONNECT_V6,
            FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6,
        ];
        let mut luid = tunnel_luid;
        for layer in v4_layers.iter().chain(&v6_layers) {
            let tunnel = [condition(
                FWPM_CONDITION_IP_LOCAL_INTERFACE,
                FWP_MATCH_EQUAL,
                Value::U64(&mut luid),
            )];
            self.filter(sublayer, *layer, &tunnel, FWP_ACTION_PERMIT, PERMIT_WEIGHT)?;
            let loopback = [condition(
                FWPM_CONDITION_FLAGS,
                FWP_MATCH_FLAGS_ALL_SET,
                Value::U32(FWP_CONDITION_FLAG_IS_LOOPBACK),
            )];
            self.filter(
                sublayer,
                *layer,
                &loopback,
                FWP_ACTION_PERMIT,
                PERMIT_WEIGHT,
            )?;
        }
        for endpoint in endpoints {
            let mut v6_address = FWP_BYTE_ARRAY16 {
                byteArray16: [0; 16],
            };
            let (address, layers) = match endpoint.ip() {
                IpAddr::V4(v4) => (Value::U32(u32::from(v4)), &v4_layers),
                IpAddr::V6(v6) => {
                    v6_address.byteArray16 = v6.octets();
                    (Value::Bytes16(&mut v6_address), &v6_layers)
                }
            };
            let conditions = [
                condition(FWPM_CONDITION_IP_REMOTE_ADDRESS, FWP_MATCH_EQUAL, address),
                condition(
                    FWPM_CONDITION_IP_REMOTE_PORT,
                    FWP_MATCH_EQUAL,
                    Value::U16(endpoint.port()),
                ),
                condition(
                    FWPM_CONDITION_IP_PROTOCOL,
                    FWP_MATCH_EQUAL,
                    Value::U8(IPPROTO_UDP),
                ),
            ];
            for layer in layers {
                self.filter(
                    sublayer,
                    *layer,
                    &conditions,
                    FWP_ACTION_PERMIT,
                    PERMIT_WEIGHT,
                )?;
            }
        }
        // DHCP and DHCPv6, seen from the local socket in both directions.
        for (layers, local, remote) in [(&v4_layers, 68, 67), (&v6_layers, 546, 547)] {
            let conditions = [
                condition(
                    FWPM_CONDITION_IP_PROTOCOL,
                    FWP_MATCH_EQUAL,
                    Value::U8(IPPROTO_UDP),
                ),
                condition(
                    FWPM_CONDITION_IP_LOCAL_PORT,
                    FWP_MATCH_EQUAL,
                    Value::U16(local),
                ),
                condition(
                    FWPM_CONDITION_IP_REMOTE_PORT,
                    FWP_MATCH_EQUAL,
                    Value::U16(remote),
                ),
            ];
            for layer in layers {
                self.filter(
                    sublayer,
                    *layer,
                    &conditions,
                    FWP_ACTION_PERMIT,
                    PERMIT_WEIGHT,
                )?;
            }
        }
        for layer in v4_layers.iter().chain(&v6_layers) {
            self.filter(sublayer, *layer, &[], FWP_ACTION_BLOCK, BLOCK_WEIGHT)?;
        }
        Ok(())
    }

    fn filter(
        &self,
        sublayer: GUID,
        layer: GUID,
        conditions: &[FWPM_FILTER_CONDITION0],
        action: FWP_ACTION_TYPE,
        weight: u8,
    ) -> Result<(), Error> {
        let mut name = wide("Culvert kill switch");
        let filter = FWPM_FILTER0 {
            displayData: FWPM_DISPLAY_DATA0 {
                name: name.as_mut_ptr(),
                description: name.as_mut_ptr(),
            },
            layerKey: layer,
            subLayerKey: sublayer,
            weight: FWP_VALUE0 {
                r#type: FWP_UINT8,
                Anonymous: FWP_VALUE0_0 { uint8: weight },
            },
            numFilterConditions: u32::try_from(conditions.len()).expect("a few conditions"),
            // WFP only reads the conditions; the API is not const-correct.
            filterCondition: if conditions.is_empty() {
                std::ptr::null_mut()
            } else {
                conditions.as_ptr().cast_mut()
            },
            action: FWPM_ACTION0 {
                r#type: action,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut id = 0_u64;
        // SAFETY: `filter`, its conditions and every value they point to (borrowed by
        // the caller) outlive the call; no security descriptor.
        let status = unsafe { FwpmFilterAdd0(self.engine, &filter, std::ptr::null_mut(), &mut id) };
        check(status, "FwpmFilterAdd0")
    }
}

/// A condition value; the pointer kinds borrow storage that must outlive the filter call.
enum Value<'a> {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(&'a mut u64),
    Bytes16(&'a mut FWP_BYTE_ARRAY16),
}

fn condition(field: GUID, match_type: i32, value: Value<'_>) -> FWPM_FILTER_CONDITION0 {
    let (kind, value) = match value {
        Value::U8(v) => (FWP_UINT8, FWP_CONDITION_VALUE0_0 { uint8: v }),
        Value::U16(v) => (FWP_UINT16, FWP_CONDITION_VALUE0_0 { uint16: v }),
        Value::U32(v) => (FWP_UINT32, FWP_CONDITION_VALUE0_0 { uint32: v }),
        Value::U64(v) => (FWP_UINT64, FWP_CONDITION_VALUE0_0 { uint64: v }),
        Value::Bytes16(v) => (
            FWP_BYTE_ARRAY16_TYPE,
            FWP_CONDITION_VALUE0_0 { byteArray16: v },
        ),
    };
    FWPM_FILTER_CONDITION0 {
        fieldKey: field,
        matchType: match_type,
        conditionValue: FWP_CONDITION_VALUE0 {
            r#type: kind,
            Anonymous: value,
        },
    }
}

fn check(status: u32, what: &'static str) -> Result<(), Error> {
    if status == 0 {
        return Ok(());
    }
    Err(Error::System {
        what,
        message: format!("error {status:#010x}"),
    })
}
