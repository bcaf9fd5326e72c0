//! One link's client settings, read from its values.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use provider_sdk::abi::redact::redact_value;
use provider_sdk::{ProviderError, Setting, SettingScope};

/// The settings a link may give, with their defaults.
pub fn declared() -> Vec<Setting> {
    let link = SettingScope::Link;
    vec![
        Setting::integer("WORKER_THREADS", SettingScope::Provider, 1, Some(64), "1", "threads driving every connection"),
        Setting::integer("CONNECT_TIMEOUT_MS", link, 1, None, "5000", "time allowed to open a connection (and TLS)"),
        Setting::integer("TIMEOUT_MS", link, 1, None, "30000", "time allowed for a whole request, redirects and body included"),
        Setting::integer("MAX_RESPONSE_BYTES", link, 0, None, "4194304", "a larger response body fails the request"),
        Setting::integer("MAX_REDIRECTS", link, 0, Some(20), "5", "redirects followed; 0 hands the 3xx to the actor"),
        Setting::text("PROXY", link, None, "an http:// or https:// proxy for every request; none when absent"),
        Setting::text("CA_FILE", link, None, "PEM file of extra CA certificates to trust, beside the built-in roots"),
        Setting::text("USER_AGENT", link, Some(concat!("host-edge/", env!("CARGO_PKG_VERSION"))), "the User-Agent sent when the actor sets none"),
        Setting::boolean("ALLOW_LOOPBACK", link, false, "true lets the actor reach loopback, link-local and unspecified addresses (the host's own services), by address or by a name resolving to one; refused otherwise, whatever the grant"),
    ]
}

/// One link's client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for the whole request.
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: u64,
    /// Redirects followed.
    pub max_redirects: usize,
    /// The proxy, if any.
    pub proxy: Option<String>,
    /// Extra CA certificates, if any.
    pub ca_file: Option<PathBuf>,
    /// The default User-Agent.
    pub user_agent: String,
    /// Whether loopback, link-local and unspecified addresses may be
    /// reached ([`crate::destination`]).
    pub allow_loopback: bool,
}

fn number<T: std::str::FromStr>(values: &BTreeMap<String, String>, key: &str, default: T) -> Result<T, ProviderError> {
    match values.get(key) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            ProviderError::bad_request(format!("{key} must be a whole number, not `{}`", redact_value(key, text)))
        }),
    }
}

fn optional(values: &BTreeMap<String, String>, key: &str) -> Option<String> {
    values.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl ClientConfig {
    /// Reads the values [`declared`] names; absent ones take the defaults.
    pub fn from_values(values: &BTreeMap<String, String>) -> Result<ClientConfig, ProviderError> {
        let config = ClientConfig {
            connect_timeout: Duration::from_millis(number(values, "CONNECT_TIMEOUT_MS", 5_000)?),
            timeout: Duration::from_millis(number(values, "TIMEOUT_MS", 30_000)?),
            max_response_bytes: number(values, "MAX_RESPONSE_BYTES", 4 << 20)?,
            max_redirects: number(values, "MAX_REDIRECTS", 5)?,
            proxy: optional(values, "PROXY"),
            ca_file: optional(values, "CA_FILE").map(PathBuf::from),
            user_agent: optional(values, "USER_AGENT")
                .unwrap_or_else(|| concat!("host-edge/", env!("CARGO_PKG_VERSION")).to_owned()),
            allow_loopback: match optional(values, "ALLOW_LOOPBACK").map(|v| v.to_ascii_lowercase()).as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ProviderError::bad_request(format!("ALLOW_LOOPBACK must be true or false, not `{other}`")))
                }
            },
        };
        if config.connect_timeout.is_zero() || config.timeout.is_zero() {
            return Err(ProviderError::bad_request("CONNECT_TIMEOUT_MS and TIMEOUT_MS must be above 0"));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_values_take_the_defaults() {
        let config = ClientConfig::from_values(&BTreeMap::new()).unwrap();
        assert_eq!(config.timeout, Duration::from_secs(30));
        assert_eq!(config.max_redirects, 5);
        assert_eq!(config.proxy, None);
        assert!(!config.allow_loopback, "local addresses are refused unless the link allows them");
    }

    #[test]
    fn allow_loopback_is_true_or_false() {
        let values = BTreeMap::from([("ALLOW_LOOPBACK".to_owned(), "TRUE".to_owned())]);
        assert!(ClientConfig::from_values(&values).unwrap().allow_loopback);
        let values = BTreeMap::from([("ALLOW_LOOPBACK".to_owned(), "yes".to_owned())]);
        let err = ClientConfig::from_values(&values).unwrap_err();
        assert!(err.message().contains("ALLOW_LOOPBACK must be true or false, not `yes`"), "{err}");
    }

    #[test]
    fn a_bad_number_is_refused_by_name() {
        let values = BTreeMap::from([("TIMEOUT_MS".to_owned(), "soon".to_owned())]);
        let err = ClientConfig::from_values(&values).unwrap_err();
        assert!(err.message().contains("TIMEOUT_MS must be a whole number, not `soon`"), "{err}");
    }
}
