//! systemd-resolved over D-Bus (`org.freedesktop.resolve1.Manager`): the tunnel's
//! servers and search domains on its own link, and in full mode the routing-only root
//! domain `~.` and the default-route flag, so every query goes to the tunnel's servers
//! and none to the other links'. Undone with `RevertLink`.

use super::Dns;
use crate::Error;
use std::net::IpAddr;
use zbus::blocking::Connection;

const SERVICE: &str = "org.freedesktop.resolve1";
const PATH: &str = "/org/freedesktop/resolve1";
const MANAGER: &str = "org.freedesktop.resolve1.Manager";
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;

/// Whether resolved is there: its name has an owner on the bus.
pub(crate) fn runs(bus: Option<&str>) -> bool {
    let owned = connect(bus).and_then(|connection| {
        let proxy = zbus::blocking::fdo::DBusProxy::new(&connection)?;
        Ok(proxy.name_has_owner(SERVICE.try_into()?)?)
    });
    owned.unwrap_or(false)
}

pub(crate) fn configure(bus: Option<&str>, index: u32, dns: &Dns, full: bool) -> Result<(), Error> {
    let connection = connect(bus).map_err(failed("connecting to the bus"))?;
    let link = link_index(index)?;
    let servers: Vec<(i32, Vec<u8>)> = dns
        .servers
        .iter()
        .map(|server| match server {
            IpAddr::V4(v4) => (AF_INET, v4.octets().to_vec()),
            IpAddr::V6(v6) => (AF_INET6, v6.octets().to_vec()),
        })
        .collect();
    call(&connection, "SetLinkDNS", &(link, servers)).map_err(failed("SetLinkDNS"))?;
    let mut domains: Vec<(&str, bool)> = dns.search.iter().map(|d| (d.as_str(), false)).collect();
    if full {
        // "~.": the routing-only root domain; every name is routed to this link.
        domains.push((".", true));
    }
    call(&connection, "SetLinkDomains", &(link, domains)).map_err(failed("SetLinkDomains"))?;
    if full {
        match call(&connection, "SetLinkDefaultRoute", &(link, true)) {
            // Before systemd 240 there is no such call; `~.` alone does the routing.
            Err(error)
                if error_name(&error) == Some("org.freedesktop.DBus.Error.UnknownMethod") =>
            {
                tracing::debug!("systemd-resolved has no SetLinkDefaultRoute");
            }
            result => result.map_err(failed("SetLinkDefaultRoute"))?,
        }
    }
    Ok(())
}

/// Idempotent: a link resolved no longer knows has no settings left to revert.
pub(crate) fn revert(bus: Option<&str>, index: u32) -> Result<(), Error> {
    let connection = connect(bus).map_err(failed("connecting to the bus"))?;
    match call(&connection, "RevertLink", &(link_index(index)?,)) {
        Err(error) if error_name(&error) == Some("org.freedesktop.resolve1.NoSuchLink") => Ok(()),
        result => result.map_err(failed("RevertLink")),
    }
}

/// A resolved that hangs must not hold up the service: every call has a deadline.
const CALL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

fn connect(bus: Option<&str>) -> zbus::Result<Connection> {
    use zbus::blocking::connection::Builder;
    let builder = match bus {
        Some(address) => Builder::address(address)?,
        None => Builder::system()?,
    };
    builder.method_timeout(CALL_DEADLINE).build()
}

fn call<B>(connection: &Connection, method: &'static str, body: &B) -> zbus::Result<()>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    connection
        .call_method(Some(SERVICE), PATH, Some(MANAGER), method, body)
        .map(drop)
}

fn error_name(error: &zbus::Error) -> Option<&str> {
    match error {
        zbus::Error::MethodError(name, _, _) => Some(name.as_str()),
        _ => None,
    }
}

fn link_index(index: u32) -> Result<i32, Error> {
    i32::try_from(index)
        .map_err(|_| Error::Resolver(format!("interface index {index} is out of range")))
}

fn failed(what: &str) -> impl FnOnce(zbus::Error) -> Error + '_ {
    move |error| Error::Resolver(format!("systemd-resolved: {what} failed: {error}"))
}
