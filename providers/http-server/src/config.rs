//! A listener's settings, read from the link values.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use provider_sdk::abi::redact::redact_value;
use provider_sdk::ProviderError;

/// One actor's listener settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Where to listen.
    pub address: SocketAddr,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Time allowed for the request head.
    pub header_read_timeout: Duration,
    /// Time allowed for the request body, once the head is in.
    pub body_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// Time allowed for the actor's answer.
    pub request_timeout: Duration,
    /// Whether a failed request's body carries the (redacted) error message
    /// under `detail`, beside the short public phrase; off by default, so
    /// clients see no internal text.
    pub error_detail: bool,
}

fn number<T: std::str::FromStr>(values: &BTreeMap<String, String>, key: &str, default: T) -> Result<T, ProviderError> {
    match values.get(key) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| ProviderError::bad_request(format!("{key} must be a number, not `{}`", redact_value(key, text)))),
    }
}

fn boolean(values: &BTreeMap<String, String>, key: &str, default: bool) -> Result<bool, ProviderError> {
    match values.get(key).map(|text| (text, text.trim().to_ascii_lowercase())) {
        None => Ok(default),
        Some((_, word)) if word == "true" => Ok(true),
        Some((_, word)) if word == "false" => Ok(false),
        Some((text, _)) => {
            Err(ProviderError::bad_request(format!("{key} must be true or false, not `{}`", redact_value(key, text))))
        }
    }
}

impl ServerConfig {
    /// Reads `ADDRESS`, `PORT`, `MAX_BODY_BYTES`, `HEADER_READ_TIMEOUT_MS`,
    /// `BODY_READ_TIMEOUT_MS`, `MAX_CONNECTIONS`, `REQUEST_TIMEOUT_MS` and
    /// `ERROR_DETAIL`.
    pub fn from_values(values: &BTreeMap<String, String>) -> Result<ServerConfig, ProviderError> {
        let ip: IpAddr = values
            .get("ADDRESS")
            .map_or("0.0.0.0", String::as_str)
            .parse()
            .map_err(|_| {
                ProviderError::bad_request(format!(
                    "ADDRESS must be an IP address, not `{}`",
                    redact_value("ADDRESS", &values["ADDRESS"])
                ))
            })?;
        let port: u16 = number(values, "PORT", 8080)?;
        let config = ServerConfig {
            address: SocketAddr::new(ip, port),
            max_body_bytes: number(values, "MAX_BODY_BYTES", 1 << 20)?,
            header_read_timeout: Duration::from_millis(number(values, "HEADER_READ_TIMEOUT_MS", 10_000)?),
            body_read_timeout: Duration::from_millis(number(values, "BODY_READ_TIMEOUT_MS", 10_000)?),
            max_connections: number(values, "MAX_CONNECTIONS", 128)?,
            request_timeout: Duration::from_millis(number(values, "REQUEST_TIMEOUT_MS", 30_000)?),
            error_detail: boolean(values, "ERROR_DETAIL", false)?,
        };
        if config.max_connections == 0
            || config.header_read_timeout.is_zero()
            || config.body_read_timeout.is_zero()
            || config.request_timeout.is_zero()
        {
            return Err(ProviderError::bad_request(
                "MAX_CONNECTIONS, HEADER_READ_TIMEOUT_MS, BODY_READ_TIMEOUT_MS and REQUEST_TIMEOUT_MS must be above 0",
            ));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn error_detail_is_off_unless_the_link_says_true() {
        assert!(!ServerConfig::from_values(&values(&[])).unwrap().error_detail);
        assert!(!ServerConfig::from_values(&values(&[("ERROR_DETAIL", "false")])).unwrap().error_detail);
        assert!(ServerConfig::from_values(&values(&[("ERROR_DETAIL", "true")])).unwrap().error_detail);
        assert!(ServerConfig::from_values(&values(&[("ERROR_DETAIL", " TRUE ")])).unwrap().error_detail);
    }

    #[test]
    fn an_error_detail_that_is_not_a_boolean_is_refused_without_echoing_a_password() {
        let err = ServerConfig::from_values(&values(&[("ERROR_DETAIL", "redis://:pw@h")])).unwrap_err();
        assert_eq!(err.message(), "ERROR_DETAIL must be true or false, not `redis://:***@h`");
    }
}
