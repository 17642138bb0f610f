//! Where a webhook endpoint may point (`--webhook-targets any|public`).
//!
//! On a developer's laptop an endpoint on `localhost` is how webhooks are received, so the
//! default is [`WebhookTargets::Any`]. A network shared by a team must not be a way into
//! the machines behind it (a cloud's link-local metadata service, other local ports, the
//! network itself), so [`WebhookTargets::Public`] refuses every address that is not public
//! unicast: when an endpoint is created or changed (a literal IP in its URL, or
//! `localhost`), and again at every delivery, after the name is resolved, so that a name
//! that resolves elsewhere later (DNS rebinding) is still refused. A refused delivery is
//! never connected; it fails with the reason recorded.
//!
//! Both modes accept only `http` and `https` URLs (Stripe requires `https` in live mode; its
//! test mode, which this network is, also takes `http`).
//!
//! This module decides; it never connects anywhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Where webhook endpoints may point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WebhookTargets {
    /// Anywhere: loopback, private and link-local addresses included (one developer's
    /// machine; the embedded network's default).
    #[default]
    Any,
    /// Only public unicast addresses (a network shared by a team).
    Public,
}

impl FromStr for WebhookTargets {
    type Err = String;

    fn from_str(s: &str) -> Result<WebhookTargets, String> {
        match s {
            "any" => Ok(WebhookTargets::Any),
            "public" => Ok(WebhookTargets::Public),
            _ => Err(format!("{s:?} is neither `any` nor `public`")),
        }
    }
}

/// Why a webhook URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL at all.
    #[error("Invalid URL: {url}: {reason}")]
    Invalid {
        /// As given.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// A scheme other than `http` or `https`.
    #[error("Invalid URL: {url}: it must start with http:// or https://")]
    Scheme {
        /// As given.
        url: String,
    },
    /// A host that is, or resolves to, an address that is not public.
    #[error(
        "Invalid URL: {host} is {kind}{resolved}, and this network takes public webhook targets only (--webhook-targets public)",
        resolved = match addr { Some(a) => format!(" ({a})"), None => String::new() }
    )]
    NotPublic {
        /// The URL's host.
        host: String,
        /// The address it resolved to, when it is a name.
        addr: Option<IpAddr>,
        /// What kind of address: "a loopback address", ...
        kind: &'static str,
    },
}

/// What kind of address `ip` is, if it is not a public unicast address: the phrase names
/// it for a message ("a private address"). `None`: public.
///
/// IPv4 special-purpose ranges are those of RFC 6890 and the IANA registry that are not
/// globally reachable; an IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:0:0/96`,
/// NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged by the IPv4 address it carries, as
/// that is where a connection would go.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "an unspecified address",
        (0, ..) => "a this-network address (0.0.0.0/8)",
        (127, ..) => "a loopback address",
        (10, ..) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (169, 254, _) => "a link-local address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (192, 0, 0) => "an IETF protocol assignment address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, ..) => "a multicast address",
        _ if ip.is_broadcast() => "the broadcast address",
        (240..=255, ..) => "a reserved address",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    Some(match s {
        // NAT64's well-known prefix: the IPv4 address is the last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return non_public_v4(embedded(hi, lo)),
        // 6to4: the IPv4 address follows the prefix.
        [0x2002, hi, lo, ..] => return non_public_v4(embedded(hi, lo)),
        // IPv4-compatible (deprecated): `::a.b.c.d`.
        [0, 0, 0, 0, 0, 0, _, _] => "an IPv4-compatible address (deprecated)",
        [0x64, 0xff9b, 1, ..] => "a local-use NAT64 address",
        [0x100, 0, 0, 0, ..] => "a discard-only address",
        [0x2001, 0xdb8, ..] => "a documentation address",
        [x, ..] if x & 0xfff0 == 0x3ff0 => "a documentation address",
        [x, ..] if x & 0xfe00 == 0xfc00 => "a unique local (private) address",
        [x, ..] if x & 0xffc0 == 0xfe80 => "a link-local address",
        [x, ..] if x & 0xffc0 == 0xfec0 => "a site-local address (deprecated)",
        [x, ..] if x & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    })
}

/// Whether `host` (a name, as in a URL) is `localhost` or under it (RFC 6761: always
/// loopback, whatever DNS says).
fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Check `url` as a merchant gives it: `http` or `https` in either mode; with
/// [`WebhookTargets::Public`], a literal address that is not public, or `localhost`, is
/// refused. A name is checked again when it is resolved at each delivery ([`PublicOnly`]).
pub fn check_url(url: &str, targets: WebhookTargets) -> Result<Url, TargetError> {
    let parsed = Url::parse(url).map_err(|e| TargetError::Invalid {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Scheme {
            url: url.to_owned(),
        });
    }
    if targets == WebhookTargets::Public {
        let refused = |host: String, kind| TargetError::NotPublic {
            host,
            addr: None,
            kind,
        };
        let host = parsed.host_str().ok_or_else(|| TargetError::Invalid {
            url: url.to_owned(),
            reason: "no host".to_owned(),
        })?;
        if let Some(ip) = literal_ip(host) {
            if let Some(kind) = non_public(ip) {
                return Err(refused(ip.to_string(), kind));
            }
        } else if is_localhost(host) {
            return Err(refused(host.to_owned(), "a loopback address"));
        }
    }
    Ok(parsed)
}

/// The address a parsed URL's host names literally. The URL parser has already turned every
/// IPv4 spelling (`2130706433`, `0x7f.1`, `127.1`) into dotted decimal, as the HTTP client
/// sees it, and an IPv6 host is in brackets.
fn literal_ip(host: &str) -> Option<IpAddr> {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => host.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// Check a delivery's URL just before it is sent: the URL again (the mode may have changed
/// since the endpoint was made, or the endpoint was made before it). A name is then checked
/// by [`PublicOnly`] as it resolves.
pub(crate) fn check_before_sending(url: &str, targets: WebhookTargets) -> Result<(), TargetError> {
    check_url(url, targets).map(drop)
}

/// Check what `host` resolved to: every address must be public (one that is not is where
/// the connection might go), and `localhost` is loopback whatever it resolved to.
pub fn check_resolved(host: &str, addrs: &[SocketAddr]) -> Result<(), TargetError> {
    for a in addrs {
        if let Some(kind) = non_public(a.ip()) {
            return Err(TargetError::NotPublic {
                host: host.to_owned(),
                addr: Some(a.ip()),
                kind,
            });
        }
    }
    if is_localhost(host) {
        return Err(TargetError::NotPublic {
            host: host.to_owned(),
            addr: None,
            kind: "a loopback address",
        });
    }
    Ok(())
}

/// The resolver of the delivery client under [`WebhookTargets::Public`]: it resolves a
/// name and hands the HTTP client only addresses it has checked, so the address connected
/// to is the address judged (no second look-up between the check and the connection).
#[derive(Debug, Default)]
pub(crate) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            check_resolved(&host, &addrs)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<&'static str> {
        non_public(ip.parse().unwrap())
    }

    #[test]
    fn every_special_purpose_ipv4_range_is_refused_at_both_ends() {
        for (ip, expect) in [
            ("0.0.0.0", "an unspecified address"),
            ("0.1.2.3", "a this-network address (0.0.0.0/8)"),
            ("0.255.255.255", "a this-network address (0.0.0.0/8)"),
            ("127.0.0.1", "a loopback address"),
            ("127.255.255.254", "a loopback address"),
            ("10.0.0.0", "a private address"),
            ("10.255.255.255", "a private address"),
            ("172.16.0.0", "a private address"),
            ("172.31.255.255", "a private address"),
            ("192.168.0.1", "a private address"),
            ("192.168.255.255", "a private address"),
            ("169.254.169.254", "a link-local address"),
            ("169.254.0.0", "a link-local address"),
            ("100.64.0.0", "a shared (carrier-grade NAT) address"),
            ("100.127.255.255", "a shared (carrier-grade NAT) address"),
            ("192.0.0.8", "an IETF protocol assignment address"),
            ("192.0.2.1", "a documentation address"),
            ("198.51.100.7", "a documentation address"),
            ("203.0.113.255", "a documentation address"),
            ("198.18.0.0", "a benchmarking address"),
            ("198.19.255.255", "a benchmarking address"),
            ("224.0.0.1", "a multicast address"),
            ("239.255.255.255", "a multicast address"),
            ("240.0.0.1", "a reserved address"),
            ("255.255.255.254", "a reserved address"),
            ("255.255.255.255", "the broadcast address"),
        ] {
            assert_eq!(kind(ip), Some(expect), "{ip}");
        }
    }

    #[test]
    fn public_ipv4_addresses_next_to_the_special_ranges_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "203.0.114.0",
            "223.255.255.255",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    #[test]
    fn ipv6_special_ranges_are_refused_and_embedded_ipv4_is_judged_as_ipv4() {
        for (ip, expect) in [
            ("::", "an unspecified address"),
            ("::1", "a loopback address"),
            ("::ffff:127.0.0.1", "a loopback address"),
            ("::ffff:10.1.2.3", "a private address"),
            ("::ffff:169.254.169.254", "a link-local address"),
            ("::ffff:0.0.0.0", "an unspecified address"),
            ("::ffff:100.64.0.1", "a shared (carrier-grade NAT) address"),
            ("64:ff9b::192.168.1.1", "a private address"),
            ("64:ff9b::127.0.0.1", "a loopback address"),
            ("2002:a9fe:a9fe::1", "a link-local address"),
            ("2002:7f00:1::", "a loopback address"),
            ("::127.0.0.1", "an IPv4-compatible address (deprecated)"),
            ("::8.8.8.8", "an IPv4-compatible address (deprecated)"),
            ("64:ff9b:1::1", "a local-use NAT64 address"),
            ("100::1", "a discard-only address"),
            ("2001:db8::1", "a documentation address"),
            ("2001:db8:ffff::", "a documentation address"),
            ("3fff::1", "a documentation address"),
            ("3fff:fff:ffff::", "a documentation address"),
            ("fc00::1", "a unique local (private) address"),
            ("fd12:3456::1", "a unique local (private) address"),
            ("fe80::1", "a link-local address"),
            ("febf:ffff::1", "a link-local address"),
            ("fec0::1", "a site-local address (deprecated)"),
            ("ff02::1", "a multicast address"),
            ("ff0e::1", "a multicast address"),
        ] {
            assert_eq!(kind(ip), Some(expect), "{ip}");
        }
        for ip in [
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
            "2001:db7:ffff::1",
            "2001:db9::1",
            "4000::1",
            "fbff::1",
            "fe00::1",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    #[test]
    fn only_http_and_https_urls_are_taken_in_either_mode() {
        for targets in [WebhookTargets::Any, WebhookTargets::Public] {
            for url in [
                "ftp://example.com/hook",
                "file:///etc/passwd",
                "gopher://example.com/",
                "javascript:alert(1)",
                "data:text/plain,x",
            ] {
                assert!(
                    matches!(check_url(url, targets), Err(TargetError::Scheme { .. })),
                    "{url} under {targets:?}"
                );
            }
            assert!(matches!(
                check_url("not a url", targets),
                Err(TargetError::Invalid { .. })
            ));
            assert!(check_url("https://example.com/hook", targets).is_ok());
            assert!(check_url("http://example.com:8080/hook", targets).is_ok());
            assert!(check_url("http://93.184.215.14/hook", targets).is_ok());
            assert!(check_url("http://[2606:4700::1111]/hook", targets).is_ok());
        }
    }

    #[test]
    fn any_takes_local_targets_and_public_refuses_them_however_they_are_spelled() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://LOCALHOST./hook",
            "http://api.localhost/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5/hook",
            "http://0.0.0.0:4242/",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[::ffff:7f00:1]/hook",
            "http://[fe80::1]/hook",
            "http://[fd00::1]/hook",
            // The URL parser reads these as IPv4, as browsers and the HTTP client do.
            "http://2130706433/hook",
            "http://0x7f.0.0.1/hook",
            "http://0177.0.0.1/hook",
            "http://127.1/hook",
            "http://127.0.0.1./hook",
            "http://100.100.100.200/hook",
            "http://user:pass@192.168.1.1/hook",
        ] {
            assert!(check_url(url, WebhookTargets::Any).is_ok(), "{url}");
            let e = check_url(url, WebhookTargets::Public)
                .expect_err(url)
                .to_string();
            assert!(e.contains("--webhook-targets public"), "{url}: {e}");
        }
        let e = check_url("http://169.254.169.254/", WebhookTargets::Public)
            .unwrap_err()
            .to_string();
        assert!(e.contains("169.254.169.254 is a link-local address"), "{e}");
    }

    #[test]
    fn a_name_is_judged_by_every_address_it_resolves_to() {
        let at = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 0);
        assert!(check_resolved("example.com", &[at("93.184.215.14")]).is_ok());
        let e =
            check_resolved("rebind.example", &[at("93.184.215.14"), at("10.0.0.1")]).unwrap_err();
        assert_eq!(
            e,
            TargetError::NotPublic {
                host: "rebind.example".into(),
                addr: Some("10.0.0.1".parse().unwrap()),
                kind: "a private address",
            }
        );
        assert!(
            e.to_string()
                .contains("rebind.example is a private address (10.0.0.1)")
        );
        assert!(check_resolved("x.example", &[at("::ffff:169.254.169.254")]).is_err());
        assert!(check_resolved("localhost", &[at("93.184.215.14")]).is_err());
    }

    #[test]
    fn the_public_resolver_refuses_a_name_that_resolves_to_loopback() {
        // `localhost` resolves from the hosts file: no traffic leaves the machine.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt
            .block_on(PublicOnly.resolve(Name::from_str("localhost").unwrap()))
            .err()
            .expect("refused")
            .to_string();
        // Judged by the address the hosts file gave, not by the name.
        assert!(err.contains("localhost is a loopback address ("), "{err}");
    }

    #[test]
    fn the_flag_values_parse() {
        assert_eq!("any".parse(), Ok(WebhookTargets::Any));
        assert_eq!("public".parse(), Ok(WebhookTargets::Public));
        assert!("private".parse::<WebhookTargets>().is_err());
        assert_eq!(WebhookTargets::default(), WebhookTargets::Any);
    }
}
