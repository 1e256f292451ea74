//! The client's address behind reverse proxies: taken from `Forwarded`
//! (RFC 7239) or `X-Forwarded-For` only when the peer is a trusted proxy,
//! and then the rightmost address no trusted proxy owns, since everything
//! left of it was written by the client and may be forged.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Parse `server.trusted_proxies`: addresses or CIDR blocks.
pub fn parse_trusted_proxies(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .map(|entry| {
            let entry = entry.trim();
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("server.trusted_proxies: {entry:?} is not an address or CIDR block")
                })
        })
        .collect()
}

/// The client's address for a request from `peer` with `headers`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Nearest hop last: walk back past the trusted proxies. A hop that does
    // not parse was written by the last trusted proxy seen, so that proxy's
    // own address is the best known.
    let mut client = peer;
    for hop in forwarded_hops(headers).iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = *ip,
            Some(ip) => return *ip,
            None => return client,
        }
    }
    client
}

/// The addresses a request passed through, oldest first: from `Forwarded`
/// when present, else `X-Forwarded-For`; `None` for a hop that is no
/// address (`unknown`, an obfuscated name).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().to_owned())
            .collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(key, _)| key.eq_ignore_ascii_case("for"))
                    .and_then(|(_, value)| parse_node(value.trim_matches('"')))
            })
            .collect();
    }
    values("x-forwarded-for")
        .iter()
        .map(|hop| parse_node(hop))
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_count_only_behind_trusted_proxies() {
        let trusted = parse_trusted_proxies(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
        let proxy = ip("10.1.2.3");
        let xff = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9, 10.0.0.5")]);
        // The rightmost address no trusted proxy owns; the forged left part
        // is ignored.
        assert_eq!(client_ip(proxy, &xff, &trusted), ip("203.0.113.9"));
        // From an untrusted peer the headers mean nothing.
        assert_eq!(client_ip(ip("192.0.2.1"), &xff, &trusted), ip("192.0.2.1"));
        // Without trusted proxies, never.
        assert_eq!(client_ip(proxy, &xff, &[]), proxy);
        // Several header lines are one list, in order.
        let lines = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(client_ip(proxy, &lines, &trusted), ip("203.0.113.9"));
        // Forwarded (RFC 7239) wins, with ports and IPv6 in brackets.
        let forwarded = headers(&[
            (
                "forwarded",
                r#"for=198.51.100.7;proto=https, for="[2001:db8::1]:4711""#,
            ),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(client_ip(proxy, &forwarded, &trusted), ip("2001:db8::1"));
        // A hop that is no address stops the walk at the proxy that wrote it.
        let unknown = headers(&[("x-forwarded-for", "198.51.100.7, unknown, 10.0.0.5")]);
        assert_eq!(client_ip(proxy, &unknown, &trusted), ip("10.0.0.5"));
        // Only trusted hops: the oldest.
        let inside = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.5")]);
        assert_eq!(client_ip(proxy, &inside, &trusted), ip("10.9.9.9"));
        assert!(parse_trusted_proxies(&["10.0.0.0/33".into()]).is_err());
        assert!(parse_trusted_proxies(&["proxy.example".into()]).is_err());
    }
}
