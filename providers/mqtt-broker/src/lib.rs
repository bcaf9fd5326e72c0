//! The MQTT broker a host-edge part connects to, read once and checked.
//!
//! The MQTT provider (from link values) and fleet control (from the
//! manifest's `[fleet]` table) reach a broker the same way: a URL
//! (`mqtt://host:port`, `mqtts://host:port`), a user name with a password or
//! a password file, and for TLS the certificates to trust and an optional
//! client certificate. This crate is that one reading, and the rumqttc
//! options it makes, so a broker that works for an actor works for the fleet
//! with the same settings, and a mistake reads the same in both.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rumqttc::v5::MqttOptions;
use rumqttc::{TlsConfiguration, Transport};
use serde::Deserialize;

/// The broker used when none is named.
pub const DEFAULT_URL: &str = "mqtt://127.0.0.1:1883";

/// What is wrong with the broker settings; the text names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BrokerError(pub String);

fn bad(message: impl Into<String>) -> BrokerError {
    BrokerError(message.into())
}

/// The broker settings as written: link values (`URL`, `USERNAME`, ...) or
/// a manifest table (`url`, `username`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerSettings {
    /// `mqtt://host:port` or `mqtts://host:port` (also `tcp://`, `ssl://`).
    pub url: Option<String>,
    /// User name.
    pub username: Option<String>,
    /// Password (prefer `password_file`: manifests get copied around).
    pub password: Option<String>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
    /// PEM certificates to trust for `mqtts://`; the system's roots when absent.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

/// The link value names, in upper case as links write them.
pub const VALUE_NAMES: [&str; 7] = ["URL", "USERNAME", "PASSWORD", "PASSWORD_FILE", "CA_FILE", "CLIENT_CERT", "CLIENT_KEY"];

impl BrokerSettings {
    /// The settings among link values; empty values count as absent.
    pub fn from_values(get: impl Fn(&str) -> Option<String>) -> BrokerSettings {
        let text = |name: &str| get(name).filter(|v| !v.is_empty());
        BrokerSettings {
            url: text("URL"),
            username: text("USERNAME"),
            password: text("PASSWORD"),
            password_file: text("PASSWORD_FILE").map(PathBuf::from),
            ca_file: text("CA_FILE").map(PathBuf::from),
            client_cert: text("CLIENT_CERT").map(PathBuf::from),
            client_key: text("CLIENT_KEY").map(PathBuf::from),
        }
    }

    /// Checks the settings and reads the password file; relative file names
    /// are taken from `base`. `names` says how the settings are spelt where
    /// they were written, for the messages.
    pub fn resolve(&self, base: &Path, names: Spelling) -> Result<Broker, BrokerError> {
        let name = |upper: &'static str| names.name(upper);
        let url = self.url.clone().unwrap_or_else(|| DEFAULT_URL.to_owned());
        let (host, port, tls) = parse_url(&url, name("URL"))?;
        let tls = if tls {
            let client = match (&self.client_cert, &self.client_key) {
                (Some(cert), Some(key)) => Some((base.join(cert), base.join(key))),
                (None, None) => None,
                _ => {
                    return Err(bad(format!(
                        "{} and {} go together; one is missing",
                        name("CLIENT_CERT"),
                        name("CLIENT_KEY")
                    )))
                }
            };
            Some(Tls { ca_file: self.ca_file.as_ref().map(|f| base.join(f)), client })
        } else {
            if self.ca_file.is_some() || self.client_cert.is_some() || self.client_key.is_some() {
                return Err(bad(format!(
                    "{}, {} and {} need an mqtts:// {}, not `{url}`",
                    name("CA_FILE"),
                    name("CLIENT_CERT"),
                    name("CLIENT_KEY"),
                    name("URL")
                )));
            }
            None
        };
        let password = match (&self.password, &self.password_file) {
            (Some(_), Some(_)) => {
                return Err(bad(format!("give {} or {}, not both", name("PASSWORD"), name("PASSWORD_FILE"))))
            }
            (Some(p), None) => Some(p.clone()),
            (None, Some(file)) => {
                let path = base.join(file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| bad(format!("{} {}: {e}", name("PASSWORD_FILE"), path.display())))?;
                Some(text.trim_end_matches(['\r', '\n']).to_owned())
            }
            (None, None) => None,
        };
        let credentials = match (&self.username, password) {
            (Some(user), password) => Some((user.clone(), password.unwrap_or_default())),
            (None, Some(_)) => return Err(bad(format!("a password was given without {}", name("USERNAME")))),
            (None, None) => None,
        };
        Ok(Broker { url, host, port, tls, credentials })
    }
}

/// How the settings are spelt where they were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// Link values: `URL`, `PASSWORD_FILE`.
    Values,
    /// A manifest table: `url`, `password_file`, after this table's name
    /// (`[fleet]` reads `[fleet] url`).
    Table(&'static str),
    /// Command-line flags: `--broker`, `--password-file`.
    Flags,
}

impl Spelling {
    fn name(self, upper: &'static str) -> String {
        match self {
            Spelling::Values => upper.to_owned(),
            Spelling::Table(table) => format!("{table} {}", upper.to_ascii_lowercase()),
            Spelling::Flags if upper == "URL" => "--broker".to_owned(),
            Spelling::Flags => format!("--{}", upper.to_ascii_lowercase().replace('_', "-")),
        }
    }
}

/// The most QoS 1 publishes a connection keeps unacknowledged.
pub const MAX_INFLIGHT: u16 = 256;

/// TLS files for `mqtts://`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tls {
    /// PEM certificates to trust; the system's roots when absent.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key, for brokers that ask for one.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// A broker, checked: where it is, how to reach it, who to be.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Broker {
    /// The URL as given, for messages (credentials never appear in it).
    pub url: String,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS, for `mqtts://`.
    pub tls: Option<Tls>,
    /// User name and password.
    pub credentials: Option<(String, String)>,
}

impl Broker {
    /// rumqttc's options for this broker as `client_id`: address,
    /// credentials and TLS. The caller sets the session's own options.
    pub fn options(&self, client_id: &str) -> Result<MqttOptions, BrokerError> {
        let mut options = MqttOptions::new(client_id.to_owned(), self.host.clone(), self.port);
        // rumqttc sizes its table of unacknowledged publishes by the
        // broker's receive maximum, 65,535 on Mosquitto, and fills it at
        // connect: 14 MiB resident per connection, whether anything is ever
        // published. A board needs far fewer in flight; past this many,
        // rumqttc holds publishes back until acknowledgements come.
        options.set_outgoing_inflight_upper_limit(MAX_INFLIGHT);
        if let Some((user, password)) = &self.credentials {
            options.set_credentials(user.clone(), password.clone());
        }
        if let Some(tls) = &self.tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(client_tls(tls)?))));
        }
        Ok(options)
    }
}

/// Splits `mqtt://host:port` (also `tcp://`) and `mqtts://host:port`
/// (also `ssl://`); `[::1]` for IPv6. Returns host, port and whether it is
/// TLS. Credentials in the URL are refused: they belong in the user name and
/// password settings, which logs never show.
pub fn parse_url(url: &str, setting: impl std::fmt::Display) -> Result<(String, u16, bool), BrokerError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad(format!("{setting} `{url}` has no scheme; expected mqtt://host:port or mqtts://host:port")))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "mqtt" | "tcp" => false,
        "mqtts" | "ssl" => true,
        other => return Err(bad(format!("{setting} scheme `{other}` is not supported; expected mqtt:// or mqtts://"))),
    };
    let authority = rest.trim_end_matches('/');
    if authority.contains('@') {
        return Err(bad(format!("{setting} must not carry credentials; give the user name and password settings")));
    }
    if authority.contains('/') || authority.contains('?') {
        return Err(bad(format!("{setting} `{url}` has a path or query; expected only mqtt://host:port")));
    }
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad(format!("{setting} `{url}`: `[` without `]`")))?;
        (host.to_owned(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(bad(format!("{setting} `{url}` names no host")));
    }
    let port = match port {
        None => default_port,
        Some(p) => p.parse().map_err(|_| bad(format!("{setting} `{url}`: `{p}` is not a port")))?,
    };
    Ok((host, port, tls))
}

/// A rustls client configuration (ring, no OpenSSL) trusting the CA file or
/// the system's roots, with the client certificate when one is given.
pub fn client_tls(tls: &Tls) -> Result<rustls::ClientConfig, BrokerError> {
    let read = |path: &Path, what: &str| std::fs::read(path).map_err(|e| bad(format!("{what} {}: {e}", path.display())));
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            let pem = read(path, "CA file")?;
            let mut added = 0;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(|e| bad(format!("CA file {}: {e}", path.display())))?;
                roots.add(cert).map_err(|e| bad(format!("CA file {}: {e}", path.display())))?;
                added += 1;
            }
            if added == 0 {
                return Err(bad(format!("CA file {} holds no PEM certificate", path.display())));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    match &tls.client {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_path, key_path)) => {
            let cert_pem = read(cert_path, "client certificate")?;
            let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("client certificate {}: {e}", cert_path.display())))?;
            let key_pem = read(key_path, "client key")?;
            let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
                .map_err(|e| bad(format!("client key {}: {e}", key_path.display())))?
                .ok_or_else(|| bad(format!("client key {} holds no private key", key_path.display())))?;
            builder.with_client_auth_cert(certs, key).map_err(|e| bad(format!("client certificate and key: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rumqttc sized its table of unacknowledged publishes by the broker's
    /// receive maximum (65,535 on Mosquitto) and filled it at connect: a
    /// fleet device idled at 28 MiB instead of 14, and every MQTT provider
    /// carried the same 14 MiB.
    #[test]
    fn a_connection_keeps_a_bounded_number_of_publishes_in_flight_whatever_the_broker_allows() {
        let broker = BrokerSettings::from_values(|_| None).resolve(Path::new("/"), Spelling::Flags).unwrap();
        let options = broker.options("device").unwrap();
        assert_eq!(options.get_outgoing_inflight_upper_limit(), Some(MAX_INFLIGHT));
    }

    #[test]
    fn urls_are_read_and_bad_ones_named() {
        assert_eq!(parse_url("mqtts://broker.lan", "URL").unwrap(), ("broker.lan".to_owned(), 8883, true));
        assert_eq!(parse_url("mqtt://[::1]:1884", "URL").unwrap(), ("::1".to_owned(), 1884, false));
        assert!(parse_url("http://x", "URL").unwrap_err().0.contains("`http`"));
        assert!(parse_url("mqtt://u:p@x", "URL").unwrap_err().0.contains("credentials"));
        assert!(parse_url("broker:1883", "URL").unwrap_err().0.contains("no scheme"));
    }

    #[test]
    fn a_password_file_is_read_beside_its_base_and_mistakes_are_named_as_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let settings = BrokerSettings {
            username: Some("pi".into()),
            password_file: Some("pw".into()),
            ..BrokerSettings::default()
        };
        let broker = settings.resolve(dir.path(), Spelling::Values).unwrap();
        assert_eq!(broker.credentials, Some(("pi".to_owned(), "s3cret".to_owned())));
        assert_eq!((broker.host.as_str(), broker.port, broker.tls.is_none()), ("127.0.0.1", 1883, true));
        let plain_with_ca = BrokerSettings { ca_file: Some("ca.pem".into()), ..BrokerSettings::default() };
        let err = plain_with_ca.resolve(dir.path(), Spelling::Table("[fleet]")).unwrap_err();
        assert!(err.0.contains("[fleet] ca_file") && err.0.contains("mqtts:// [fleet] url"), "{err}");
        let orphan = BrokerSettings { password: Some("x".into()), ..BrokerSettings::default() };
        assert!(orphan.resolve(dir.path(), Spelling::Values).unwrap_err().0.contains("without USERNAME"));
    }
}
