//! Addresses an actor may not reach unless the link says so: loopback
//! (the host's own services: its metrics port, a local Redis), link-local
//! (cloud metadata at 169.254.169.254, neighbours by fe80::) and the
//! unspecified address (0.0.0.0, which Linux connects to the host itself).
//!
//! A request is checked twice: an IP address written in the URL (also on
//! every redirect) before it is sent, and the addresses a host name
//! resolves to, by the client's resolver, so a DNS name that points at
//! 127.0.0.1 is refused as well, on the addresses the connection would
//! really use. The link value `ALLOW_LOOPBACK = "true"` lifts both checks.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Why a destination is refused: the request never leaves the host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalRefused {
    /// The URL names a local address.
    #[error(
        "{address} is {kind}, which actors may not reach unless the link sets ALLOW_LOOPBACK = \"true\""
    )]
    Address {
        /// The address in the URL.
        address: IpAddr,
        /// A loopback, link-local or unspecified address.
        kind: &'static str,
    },
    /// The host name resolves only to local addresses.
    #[error(
        "`{name}` resolves to {addresses}, {kind}, which actors may not reach unless the link sets \
         ALLOW_LOOPBACK = \"true\""
    )]
    Name {
        /// The name resolved.
        name: String,
        /// What it resolved to.
        addresses: String,
        /// A loopback, link-local or unspecified address (the first).
        kind: &'static str,
    },
}

/// What kind of local address `ip` is (`a loopback address`), if it is
/// one (`None`: it may be reached). An IPv4 address mapped into IPv6 (`::ffff:127.0.0.1`) is
/// judged as the IPv4 address.
pub fn local_kind(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) if v4.is_loopback() => Some("a loopback address"),
        IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local address"),
        // 0.0.0.0/8, "this network": 0.0.0.0 reaches the host itself.
        IpAddr::V4(v4) if v4.octets()[0] == 0 => Some("an unspecified address"),
        IpAddr::V6(v6) if v6.is_loopback() => Some("a loopback address"),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("an unspecified address"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some("a link-local address"),
        _ => None,
    }
}

/// `Ok` when `url`'s host is a name (checked when it is resolved) or an
/// address that is not local.
pub fn check_url(url: &Url) -> Result<(), LocalRefused> {
    // The URL parser writes every IPv4 spelling (`2130706433`, `0x7f.1`)
    // as dotted decimal, and IPv6 in brackets.
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let Ok(address) = host.parse::<IpAddr>() else {
        return Ok(());
    };
    match local_kind(address) {
        Some(kind) => Err(LocalRefused::Address { address, kind }),
        None => Ok(()),
    }
}

/// The addresses of `resolved` an actor may reach; refused, naming them,
/// when none is left.
pub fn reachable(name: &str, resolved: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, LocalRefused> {
    let kept: Vec<SocketAddr> = resolved.iter().copied().filter(|a| local_kind(a.ip()).is_none()).collect();
    if !kept.is_empty() || resolved.is_empty() {
        return Ok(kept);
    }
    let addresses: Vec<String> = resolved.iter().map(|a| a.ip().to_string()).collect();
    Err(LocalRefused::Name {
        name: name.to_owned(),
        addresses: addresses.join(", "),
        kind: local_kind(resolved[0].ip()).unwrap_or("a local address"),
    })
}

/// The client's resolver: the system's (getaddrinfo, as reqwest's own),
/// with local addresses taken out.
pub struct GuardedResolver {
    /// A name resolved as it is, local or not: the link's `PROXY`, which
    /// the operator chose.
    pub exempt: Option<String>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let name = name.as_str().to_owned();
        let exempt = self.exempt.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&name));
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let addresses = if exempt { resolved } else { reachable(&name, resolved)? };
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok::<Addrs, Box<dyn std::error::Error + Send + Sync>>(addresses)
        })
    }
}

impl GuardedResolver {
    /// The resolver, shared with the client.
    pub fn shared(exempt: Option<String>) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver { exempt })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        check_url(&Url::parse(url).unwrap()).is_err()
    }

    #[test]
    fn loopback_link_local_and_unspecified_addresses_in_a_url_are_refused_in_every_spelling() {
        for url in [
            "http://127.0.0.1:9090/metrics",
            "http://127.1.2.3/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0.0.0.0:6379/",
            "http://0/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:9090/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fe80::1]/",
        ] {
            assert!(refused(url), "{url}");
        }
        for url in ["http://10.0.0.1/", "http://192.0.2.1/", "http://[2001:db8::1]/", "https://example.com/"] {
            assert!(!refused(url), "{url}");
        }
    }

    #[test]
    fn a_name_resolving_only_to_local_addresses_is_refused_naming_them() {
        let local: Vec<SocketAddr> = vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()];
        let err = reachable("localhost", local).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`localhost` resolves to 127.0.0.1, ::1, a loopback address, which actors may not reach unless the link sets \
             ALLOW_LOOPBACK = \"true\""
        );
        let mixed: Vec<SocketAddr> = vec!["127.0.0.1:0".parse().unwrap(), "192.0.2.7:0".parse().unwrap()];
        assert_eq!(reachable("mixed.example", mixed).unwrap(), vec!["192.0.2.7:0".parse::<SocketAddr>().unwrap()]);
    }
}
