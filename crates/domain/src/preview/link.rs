//! Which links may be fetched, and the normalized form previews are cached under.
//!
//! A link is fetched only when it is `http`/`https`, at most 2,048 bytes, carries no
//! credentials, and its host is (or resolves to) a public unicast address. Hosts are parsed as
//! browsers parse them (WHATWG URL), so `http://2130706433/`, `http://0x7f.1/` and
//! `http://0177.0.0.1/` all read as 127.0.0.1 and are refused like it. Name resolution happens in
//! the fetcher, which applies [`AddressPolicy::allows`] to every address a name resolves to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

pub const MAX_URL_BYTES: usize = 2_048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotAllowed(String),
}

/// Which addresses may be fetched. The default allows public unicast only; loopback can be
/// allowed for local test stacks (never by the template).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_loopback: bool,
}

impl AddressPolicy {
    pub fn allows(&self, ip: IpAddr) -> bool {
        if self.allow_loopback && ip.is_loopback() {
            return true;
        }
        match ip {
            IpAddr::V4(v4) => public_v4(v4),
            IpAddr::V6(v6) => public_v6(v6),
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network", 0.0.0.0
        || a == 10                             // RFC 1918
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || a == 127                            // loopback
        || (a == 169 && b == 254)              // link-local, cloud metadata 169.254.169.254
        || (a == 172 && (16..32).contains(&b)) // RFC 1918
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || (a == 192 && b == 168)              // RFC 1918
        || (a == 198 && (b == 18 || b == 19))  // benchmarking
        || (a == 198 && b == 51 && c == 100)   // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)    // TEST-NET-3
        || a >= 224) // multicast 224/4, reserved 240/4, broadcast 255.255.255.255
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Only global unicast (2000::/3) is public, minus the special blocks inside it.
    if s[0] & 0xe000 != 0x2000 {
        return false; // ::, ::1, IPv4-mapped/compatible, 64:ff9b::/96, ULA fc00::/7, fe80::/10, ff00::/8 ...
    }
    // 2001::/23 IETF protocol assignments (Teredo 2001::/32 included), 2001:db8::/32 documentation.
    let ietf_or_documentation = s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8);
    // 6to4 embeds an IPv4 address we cannot vouch for.
    let special = ietf_or_documentation || s[0] == 0x2002;
    !special
}

/// Parses and checks a link; the address check of a host *name* is left to the fetcher.
pub fn check(raw: &str, policy: AddressPolicy) -> Result<Url, LinkError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(LinkError::Invalid("url is empty".into()));
    }
    if raw.len() > MAX_URL_BYTES {
        return Err(LinkError::Invalid(format!("url is longer than {MAX_URL_BYTES} bytes")));
    }
    let url = Url::parse(raw).map_err(|e| LinkError::Invalid(format!("url is not valid: {e}")))?;
    check_parsed(&url, policy)?;
    Ok(url)
}

/// The checks that apply to every hop, redirects included.
pub fn check_parsed(url: &Url, policy: AddressPolicy) -> Result<(), LinkError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(LinkError::NotAllowed(format!(
            "scheme {:?} is not allowed: only http and https",
            url.scheme()
        )));
    }
    if url.as_str().len() > MAX_URL_BYTES {
        return Err(LinkError::Invalid(format!("url is longer than {MAX_URL_BYTES} bytes")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(LinkError::NotAllowed("urls with credentials are not fetched".into()));
    }
    match url.host() {
        None => Err(LinkError::Invalid("url has no host".into())),
        Some(Host::Ipv4(ip)) => literal(IpAddr::V4(ip), policy),
        Some(Host::Ipv6(ip)) => literal(IpAddr::V6(ip), policy),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            // Names that mean this machine whatever DNS says.
            if !policy.allow_loopback && (name == "localhost" || name.ends_with(".localhost")) {
                return Err(LinkError::NotAllowed(format!("host {name:?} is not a public address")));
            }
            Ok(())
        }
    }
}

fn literal(ip: IpAddr, policy: AddressPolicy) -> Result<(), LinkError> {
    if policy.allows(ip) {
        Ok(())
    } else {
        Err(LinkError::NotAllowed(format!("address {ip} is not a public address")))
    }
}

/// Tracking parameters that never change what a page shows, dropped from cache keys.
fn is_tracking(name: &str) -> bool {
    name.starts_with("utm_") || matches!(name, "fbclid" | "gclid" | "mc_cid" | "mc_eid" | "igshid")
}

/// The form a preview is cached under: no fragment, no tracking parameters; scheme and host
/// lower-cased and default ports dropped (the URL parser already does both).
pub fn normalize(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    if u.query().is_some() {
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_tracking(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    u.to_string()
}

/// Links an attacker would try against a fetcher: every one must be refused.
#[cfg(any(test, feature = "fakes"))]
pub mod probes {
    /// What an attacker would try: every one must be refused before any connection is made.
    pub const PROBES: &[&str] = &[
        "http://127.0.0.1/",
        "http://127.1/",
        "http://127.0.0.1:6379/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.0x0.0x0.0x1/",
        "http://0177.0.0.1/",
        "http://017700000001/",
        "http://0/",
        "http://0.0.0.0/",
        "http://localhost/",
        "http://LOCALHOST./admin",
        "http://api.localhost/",
        "http://[::1]/",
        "http://[::]/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::127.0.0.1]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[ff02::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://0xa9fea9fe/",
        "http://0251.0376.0251.0376/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://100.127.255.254/",
        "http://224.0.0.1/",
        "http://239.255.255.250:1900/",
        "http://255.255.255.255/",
        "http://240.0.0.1/",
        "http://198.18.0.1/",
        "http://user:pass@example.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "ftp://example.com/",
        "dict://127.0.0.1:11211/stat",
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "not a url",
        "",
    ];
}

#[cfg(test)]
mod tests {
    use super::probes::PROBES;
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy { allow_loopback: false };

    #[test]
    fn every_probe_is_refused() {
        assert!(PROBES.len() >= 30);
        for p in PROBES {
            assert!(check(p, STRICT).is_err(), "{p} was allowed");
        }
    }

    #[test]
    fn loopback_allowance_covers_loopback_only() {
        let local = AddressPolicy { allow_loopback: true };
        assert!(check("http://127.0.0.1:8080/page", local).is_ok());
        assert!(check("http://[::1]:8080/", local).is_ok());
        assert!(check("http://localhost:8080/", local).is_ok());
        for p in ["http://10.0.0.1/", "http://169.254.169.254/", "http://[fc00::1]/", "http://192.168.0.1/"] {
            assert!(check(p, local).is_err(), "{p}");
        }
    }

    #[test]
    fn public_links_pass() {
        for u in [
            "https://example.com/a?b=c",
            "http://93.184.216.34/",
            "https://[2606:2800:220:1::248]/",
            "https://8.8.8.8/",
        ] {
            assert!(check(u, STRICT).is_ok(), "{u}");
        }
    }

    #[test]
    fn classification_edges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(STRICT.allows(ip("100.63.255.255")) && !STRICT.allows(ip("100.64.0.0")));
        assert!(STRICT.allows(ip("100.128.0.0")));
        assert!(STRICT.allows(ip("172.15.255.255")) && !STRICT.allows(ip("172.16.0.0")));
        assert!(STRICT.allows(ip("172.32.0.0")));
        assert!(STRICT.allows(ip("223.255.255.255")) && !STRICT.allows(ip("224.0.0.0")));
        assert!(STRICT.allows(ip("2001:4860:4860::8888")));
        assert!(!STRICT.allows(ip("2001:db8::1")) && !STRICT.allows(ip("2001::1")));
    }

    #[test]
    fn length_and_scheme_messages() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert!(matches!(check(&long, STRICT), Err(LinkError::Invalid(_))));
        assert!(matches!(check("ftp://example.com/", STRICT), Err(LinkError::NotAllowed(_))));
        assert!(matches!(check("nope", STRICT), Err(LinkError::Invalid(_))));
    }

    #[test]
    fn normalization() {
        let n = |s: &str| normalize(&Url::parse(s).unwrap());
        assert_eq!(n("HTTPS://Example.COM:443/a?utm_source=x&b=1#frag"), "https://example.com/a?b=1");
        assert_eq!(n("http://example.com:80/?utm_medium=y"), "http://example.com/");
        assert_eq!(n("http://example.com/p?q=%20a"), n("http://example.com/p?q=+a"));
    }
}
