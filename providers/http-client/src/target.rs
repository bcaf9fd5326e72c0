//! Where a request goes, and whether the actor's grant lets it go there.
//!
//! An actor names the URL in the request's `path` (waSCC's convention),
//! with `queryString` appended. Only `http` and `https` are served. The
//! grant is checked on the URL of the request and again on every redirect,
//! so a granted server cannot send the actor on to one that is not
//! (Spin's `allowed_outbound_hosts` was bypassed that way, CVE-2024-32980).
//!
//! Rules for `wascc:http_client`:
//! - `host:NAME` — `NAME` on its scheme's default port (80, 443);
//! - `host:NAME:PORT` — that port only; `host:NAME:*` — any port;
//! - `host:*.example.com` — any subdomain of `example.com` (not the domain
//!   itself); IPv6 addresses in brackets, `host:[::1]:8080`;
//! - `prefix:URL` — a path within a host (`prefix:https://api.example.com/v1`):
//!   both URLs are parsed, and the request's scheme, host (exactly: no
//!   subdomain, no longer name) and port (explicit or the scheme's default)
//!   must be the rule's, and its path must be the rule's path or continue
//!   it after a `/` (`/v1` reaches `/v1` and `/v1/items`, not `/v1admin`);
//! - `exact:URL` — that URL only, parsed the same way, query included.
//!
//! A request URL carrying user info (`https://api.example.com@evil.net/`,
//! `https://user:pass@api.example.com/`) is never permitted by a `prefix:`
//! or `exact:` rule, nor is a rule that carries user info, a query (for
//! `prefix:`) or a fragment.
//!
//! Names are compared without regard to case; no name is resolved, so the
//! grant speaks of what the actor asked for. Where the name leads is
//! checked apart from the grant (see `destination`).

use provider_sdk::grant::{Grant, OutsideGrant, Rule};
use provider_sdk::ProviderError;
use reqwest::Url;

/// The capability, for messages.
pub const CAPABILITY: &str = "wascc:http_client";

/// The URL of a request: `path` must be an absolute `http://` or
/// `https://` URL; a non-empty `query` is added to its query.
pub fn url_of(path: &str, query: &str) -> Result<Url, ProviderError> {
    let mut url = Url::parse(path.trim()).map_err(|e| {
        ProviderError::bad_request(format!(
            "PerformRequest needs an absolute http:// or https:// URL in `path`, not `{}` ({e})",
            shown(path)
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ProviderError::bad_request(format!(
            "only http:// and https:// URLs are served, not `{}`",
            shown(url.as_str())
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ProviderError::bad_request(format!("`{}` names no host", shown(url.as_str()))));
    }
    let query = query.trim_start_matches('?');
    if !query.is_empty() {
        let joined = match url.query() {
            Some(existing) if !existing.is_empty() => format!("{existing}&{query}"),
            _ => query.to_owned(),
        };
        url.set_query(Some(&joined));
    }
    Ok(url)
}

/// `host:port` of `url`, the port explicit or its scheme's default; what
/// refusals name.
pub fn authority(url: &Url) -> String {
    // IPv6 hosts come in brackets.
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// `Ok` when `grant` lets the actor reach `url`; otherwise the refusal,
/// naming the host and the grant.
pub fn check(grant: &Grant, url: &Url) -> Result<(), OutsideGrant> {
    grant.check_by(
        CAPABILITY,
        &format!("host `{}` (in {})", authority(url), shown(url.as_str())),
        |kind| matches!(kind, "host" | "prefix" | "exact"),
        |rule| permits(rule, url),
    )
}

/// Whether one rule lets the actor reach `url`.
fn permits(rule: &Rule, url: &Url) -> bool {
    match rule.kind() {
        "host" => host_permits(rule.value(), url),
        "prefix" => url_permits(rule.value(), url, false),
        "exact" => url_permits(rule.value(), url, true),
        _ => false,
    }
}

/// The `prefix:` (or, `exact`, `exact:`) rule `pattern` against `url`,
/// on the parsed URLs: scheme, host and port equal, the path within the
/// rule's at a `/` boundary (equal, for `exact`, with the query). Never
/// for user info on either side, nor a fragment in the rule.
fn url_permits(pattern: &str, url: &Url, exact: bool) -> bool {
    let Ok(rule) = Url::parse(pattern.trim()) else {
        return false;
    };
    let has_userinfo = |u: &Url| !u.username().is_empty() || u.password().is_some();
    if has_userinfo(url) || has_userinfo(&rule) || rule.fragment().is_some() {
        return false;
    }
    let same_origin = rule.scheme() == url.scheme()
        && rule.host_str().is_some()
        && rule.host_str() == url.host_str()
        && rule.port_or_known_default() == url.port_or_known_default();
    if !same_origin {
        return false;
    }
    if exact {
        return rule.path() == url.path() && rule.query().unwrap_or("") == url.query().unwrap_or("");
    }
    if rule.query().is_some() {
        return false;
    }
    path_within(rule.path(), url.path())
}

/// Whether `path` is `base` or lies below it: `/v1` holds `/v1` and
/// `/v1/items`, not `/v1admin`; `/v1/` holds `/v1/items`; `/` holds all.
fn path_within(base: &str, path: &str) -> bool {
    match path.strip_prefix(base) {
        None => false,
        Some(rest) => base.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
    }
}

/// The `host:` rule `pattern` (`NAME`, `NAME:PORT`, `NAME:*`, `*.DOMAIN`,
/// `[IPV6]:PORT`) against `url`.
fn host_permits(pattern: &str, url: &Url) -> bool {
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let (name, wanted_port) = split_port(pattern);
    let port_ok = match wanted_port {
        None => url.port().is_none() || Some(port) == default_port(url.scheme()),
        Some("*") => true,
        Some(text) => text.parse::<u16>().is_ok_and(|p| p == port),
    };
    let name = name.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let name_ok = match name.strip_prefix("*.") {
        Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
        None => host == name,
    };
    port_ok && name_ok
}

/// `NAME[:PORT]`, with `[v6]:PORT` for IPv6 addresses.
fn split_port(pattern: &str) -> (&str, Option<&str>) {
    if let Some(rest) = pattern.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, tail)) => (ip, tail.strip_prefix(':')),
            None => (pattern, None),
        };
    }
    match pattern.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (pattern, None),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// A URL as messages may show it: credentials hidden.
pub fn shown(text: &str) -> String {
    provider_sdk::abi::redact::redact_text(text).into_owned()
}

#[cfg(test)]
mod tests {
    use provider_sdk::grant::{Layer, Source};

    use super::*;

    fn grant(rules: &[&str]) -> Grant {
        Grant::new(vec![Layer::new(Source::Signed, rules.iter().map(|r| r.parse().unwrap()).collect())])
    }

    fn allowed(rules: &[&str], url: &str) -> bool {
        check(&grant(rules), &Url::parse(url).unwrap()).is_ok()
    }

    #[test]
    fn a_bare_host_rule_means_the_default_ports_only() {
        assert!(allowed(&["host:api.example.com"], "https://api.example.com/v1"));
        assert!(allowed(&["host:api.example.com"], "http://API.example.com:80/"));
        assert!(!allowed(&["host:api.example.com"], "https://api.example.com:8443/"));
        assert!(!allowed(&["host:api.example.com"], "https://api.example.com.evil.net/"));
    }

    #[test]
    fn a_port_in_the_rule_is_that_port_or_any_with_a_star() {
        assert!(allowed(&["host:127.0.0.1:8080"], "http://127.0.0.1:8080/x"));
        assert!(!allowed(&["host:127.0.0.1:8080"], "http://127.0.0.1:8081/x"));
        assert!(!allowed(&["host:127.0.0.1:8080"], "http://127.0.0.2:8080/x"));
        assert!(allowed(&["host:127.0.0.1:*"], "http://127.0.0.1:9/x"));
        assert!(allowed(&["host:[::1]:8080"], "http://[::1]:8080/"));
        assert!(!allowed(&["host:[::1]:8080"], "http://[::1]:8081/"));
    }

    #[test]
    fn a_wildcard_covers_subdomains_but_not_the_domain() {
        assert!(allowed(&["host:*.example.com"], "https://a.b.example.com/"));
        assert!(!allowed(&["host:*.example.com"], "https://example.com/"));
        assert!(!allowed(&["host:*.example.com"], "https://badexample.com/"));
    }

    #[test]
    fn prefix_rules_match_the_whole_url() {
        assert!(allowed(&["prefix:https://api.example.com/v1/"], "https://api.example.com/v1/items?a=1"));
        assert!(!allowed(&["prefix:https://api.example.com/v1/"], "https://api.example.com/v2/items"));
    }

    #[test]
    fn a_url_prefix_does_not_admit_a_longer_host_or_user_info_pointing_elsewhere() {
        // As a string prefix, `prefix:https://api.example.com` admitted
        // these: another host whose name starts with the granted one, and
        // the granted name as user info in front of another host.
        let rule = ["prefix:https://api.example.com"];
        for evil in [
            "https://api.example.com.evil.net/",
            "https://api.example.com@evil.net/",
            "https://api.example.com:443@evil.net/",
            "https://api.example.com:8443/",
            "https://api.example.comevil.net/",
        ] {
            assert!(!allowed(&rule, evil), "{evil}");
        }
        assert!(allowed(&rule, "https://api.example.com/"));
        assert!(allowed(&rule, "https://API.example.com:443/v1/items?a=1"));
        assert!(!allowed(&rule, "https://user:secret@api.example.com/"), "user info is refused");
        assert!(!allowed(&rule, "http://api.example.com/"), "the scheme is part of the rule");
    }

    #[test]
    fn a_url_prefix_path_ends_at_a_segment_boundary() {
        let rule = ["prefix:https://api.example.com/v1"];
        assert!(allowed(&rule, "https://api.example.com/v1"));
        assert!(allowed(&rule, "https://api.example.com/v1/items"));
        assert!(!allowed(&rule, "https://api.example.com/v1admin"));
        assert!(!allowed(&rule, "https://api.example.com/v1/../admin"), "dot segments are resolved first");
        assert!(!allowed(&rule, "https://api.example.com/v1/%2e%2e/admin"));
        assert!(allowed(&["exact:https://api.example.com/v1/x?a=1"], "https://api.example.com/v1/x?a=1"));
        assert!(!allowed(&["exact:https://api.example.com/v1/x"], "https://api.example.com/v1/x?a=1"));
        assert!(!allowed(&["prefix:https://u:p@api.example.com/"], "https://u:p@api.example.com/"));
        assert!(!allowed(&["prefix:not a url"], "https://api.example.com/"));
    }

    #[test]
    fn a_url_grant_never_admits_another_host_for_any_url_built_from_hostile_pieces() {
        // Every combination of a scheme, user info, a host that starts or
        // ends like the granted one, a port and a path: whatever passes the
        // rule is on the granted host, port and path.
        let hosts = ["api.example.com", "api.example.com.evil.net", "evil.net", "api.example.co", "xapi.example.com", "API.EXAMPLE.COM"];
        let userinfo = ["", "api.example.com@", "api.example.com:443@", "u:p@"];
        let ports = ["", ":443", ":8443", ":80"];
        let paths = ["/", "/v1", "/v1/", "/v1/a", "/v1a", "/v1/../x", "/x/v1"];
        let rules = ["prefix:https://api.example.com", "prefix:https://api.example.com/v1", "prefix:https://api.example.com/v1/"];
        let mut checked = 0;
        for scheme in ["https://", "http://"] {
            for user in userinfo {
                for host in hosts {
                    for port in ports {
                        for path in paths {
                            let text = format!("{scheme}{user}{host}{port}{path}");
                            let Ok(url) = Url::parse(&text) else { continue };
                            for rule in rules {
                                checked += 1;
                                if check(&grant(&[rule]), &url).is_ok() {
                                    assert_eq!(url.host_str(), Some("api.example.com"), "{rule} admitted {text}");
                                    assert_eq!(url.port_or_known_default(), Some(443), "{rule} admitted {text}");
                                    assert_eq!((url.username(), url.password()), ("", None), "{rule} admitted {text}");
                                    assert!(url.path().starts_with("/v1") || rule == rules[0], "{rule} admitted {text}");
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    #[test]
    fn a_refusal_names_the_host_and_the_grant() {
        let err = check(&grant(&["host:127.0.0.1:8080"]), &Url::parse("http://10.0.0.1/admin").unwrap()).unwrap_err().to_string();
        assert!(err.starts_with("host `10.0.0.1:80` (in http://10.0.0.1/admin) is outside the grant for wascc:http_client"), "{err}");
        assert!(err.contains("host:127.0.0.1:8080"), "{err}");
    }

    #[test]
    fn an_unknown_rule_kind_permits_nothing() {
        let err = check(&grant(&["domain:example.com"]), &Url::parse("https://example.com/").unwrap()).unwrap_err().to_string();
        assert!(err.contains("`domain` are not understood"), "{err}");
    }

    #[test]
    fn urls_must_be_absolute_http_and_take_the_query() {
        assert_eq!(url_of("http://h:1/p", "a=1").unwrap().as_str(), "http://h:1/p?a=1");
        assert_eq!(url_of("http://h:1/p?x=2", "a=1").unwrap().as_str(), "http://h:1/p?x=2&a=1");
        assert!(url_of("/relative", "").unwrap_err().message().contains("absolute http:// or https:// URL"));
        assert!(url_of("file:///etc/passwd", "").unwrap_err().message().contains("only http:// and https://"));
    }

    #[test]
    fn credentials_in_a_url_are_not_shown() {
        let err = url_of("ftp://user:secret@h/", "").unwrap_err();
        assert!(!err.message().contains("secret"), "{err}");
    }
}
