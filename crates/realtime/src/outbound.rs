//! Requests to URLs outside (the Events API's deliveries and URL checks),
//! guarded against server-side request forgery: every address a name
//! resolves to is checked when the connection is made, so a name that
//! resolves to an inside address later is refused too; redirects are not
//! followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use confab_core::ports::{Outbound, OutboundHttp};
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Most bytes of an answer kept (enough for a URL check's challenge).
const MAX_ANSWER_BYTES: usize = 4096;

/// Why a request was refused before it left.
const REFUSED: &str = "address not allowed";

/// Whether `ip` is inside: loopback, private, link-local (with the cloud
/// metadata address), shared, unspecified, multicast or broadcast.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                // 100.64.0.0/10, shared address space (carrier NAT).
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Which addresses may be reached.
#[derive(Clone, Debug, Default)]
struct Guard {
    /// Inside addresses an admin allowed (`integrations.allowed_networks`).
    allowed: Vec<IpNet>,
}

impl Guard {
    fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }
}

/// Resolves names, keeping only the addresses the guard permits.
struct GuardedResolver(Arc<Guard>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let kept: Vec<SocketAddr> = found.filter(|a| guard.permits(a.ip())).collect();
            if kept.is_empty() {
                return Err(REFUSED.into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// Outbound requests over HTTP(S) with the guard.
pub struct HttpOutbound {
    client: reqwest::Client,
    guard: Arc<Guard>,
}

impl HttpOutbound {
    /// A sender that may reach `allowed` inside networks besides the
    /// outside world.
    pub fn new(allowed: Vec<IpNet>) -> Self {
        let guard = Arc::new(Guard { allowed });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver(guard.clone())))
            .redirect(reqwest::redirect::Policy::none())
            // Straight to the address the guard checked, never through a
            // proxy named in the environment (which the guard would not see).
            .no_proxy()
            .user_agent("Confab-Events/1.0")
            .build()
            .expect("an HTTP client");
        Self { client, guard }
    }

    /// A sender that may reach the inside networks written in `allowed`
    /// (CIDR text); the first that does not parse is the error.
    pub fn allowing(allowed: &[String]) -> Result<Self, String> {
        let nets = allowed
            .iter()
            .map(|text| {
                text.trim()
                    .parse::<IpNet>()
                    .map_err(|_| format!("{text:?} is not a network (CIDR such as 10.0.0.0/8)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(nets))
    }

    /// Why `url` may not be asked, before any name is resolved.
    fn refusal(&self, url: &reqwest::Url) -> Option<String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Some("only http and https URLs are called".into());
        }
        if url.host_str().is_none() {
            return Some("the URL names no host".into());
        }
        let host = url.host_str()?;
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        match literal.parse::<IpAddr>() {
            Ok(ip) if !self.guard.permits(ip) => Some(format!("{ip} is an {REFUSED}")),
            _ => None,
        }
    }
}

/// Whether `err` came from the guard.
fn refused_by_guard(err: &reqwest::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = cause {
        if e.to_string().contains(REFUSED) {
            return true;
        }
        cause = e.source();
    }
    false
}

#[async_trait]
impl OutboundHttp for HttpOutbound {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Outbound {
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return Outbound::Refused("not a URL".into());
        };
        if let Some(why) = self.refusal(&parsed) {
            return Outbound::Refused(why);
        }
        let mut request = self.client.post(parsed).timeout(timeout).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) if refused_by_guard(&err) => {
                return Outbound::Refused(format!("{url} resolves to an {REFUSED}"))
            }
            Err(err) if err.is_timeout() => return Outbound::TimedOut,
            Err(err) => return Outbound::Failed(err.to_string()),
        };
        let status = response.status().as_u16();
        // The request's timeout covers the body too.
        match read_answer(response).await {
            Ok(kept) => Outbound::Answered {
                status,
                body: String::from_utf8_lossy(&kept).into_owned(),
            },
            Err(err) if err.is_timeout() => Outbound::TimedOut,
            Err(err) => Outbound::Failed(err.to_string()),
        }
    }
}

/// The first [`MAX_ANSWER_BYTES`] of an answer, read no further: a
/// receiver that sends more costs no more memory.
async fn read_answer(mut response: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    let mut kept = Vec::new();
    while kept.len() < MAX_ANSWER_BYTES {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let room = MAX_ANSWER_BYTES - kept.len();
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_refused_unless_allowed() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(!is_internal(outside.parse().unwrap()), "{outside}");
        }
        let guard = Guard {
            allowed: vec!["127.0.0.1/32".parse().unwrap()],
        };
        assert!(guard.permits("127.0.0.1".parse().unwrap()));
        assert!(!guard.permits("127.0.0.2".parse().unwrap()));
        assert!(!guard.permits("169.254.169.254".parse().unwrap()));
    }

    #[tokio::test]
    async fn literal_and_resolved_inside_addresses_are_refused_before_sending() {
        let outbound = HttpOutbound::new(Vec::new());
        let timeout = Duration::from_secs(2);
        for url in [
            "http://127.0.0.1:9/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:9/",
            "http://localhost:9/",
            "ftp://example.com/",
        ] {
            let outcome = outbound.post(url, &[], Vec::new(), timeout).await;
            assert!(
                matches!(outcome, Outbound::Refused(_)),
                "{url}: {outcome:?}"
            );
        }
    }
}
