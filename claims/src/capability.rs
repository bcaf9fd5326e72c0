//! Capability ids and their aliases.
//!
//! A capability id names a contract between an actor and a provider
//! (`wascc:keyvalue`). Three generations of tooling spell the well-known set
//! differently: waSCC wrote `wascc:…`, the wascap specification `wascap:…`,
//! wasmCloud `wasmcloud:…` (and `httpserver` without the underscore). This
//! module is the one place that knows those spellings, so every id the host
//! reads — from claims, manifests or a `__host_call` namespace — compares equal
//! however it was written.

use std::fmt;

/// The well-known capabilities host-edge knows by name.
///
/// Each has a canonical (waSCC) id, a short name used by CLI flags, and the
/// aliases other tools write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WellKnown {
    /// `wascc:keyvalue`: key-value stores.
    KeyValue,
    /// `wascc:messaging`: publish/subscribe and request/reply messaging.
    Messaging,
    /// `wascc:http_server`: inbound HTTP requests delivered to the actor.
    HttpServer,
    /// `wascc:http_client`: outbound HTTP requests made by the actor.
    HttpClient,
    /// `wascc:blobstore`: containers of binary objects.
    Blobstore,
    /// `wascc:extras`: GUIDs, sequences and random numbers.
    Extras,
    /// `wascc:logging`: structured log lines from the actor.
    Logging,
    /// `iot:gpio`: general-purpose I/O pins on the board.
    Gpio,
    /// `iot:i2c`: transactions with devices on the board's I2C buses.
    I2c,
    /// `iot:spi`: transactions with devices on the board's SPI buses.
    Spi,
    /// `iot:serial`: the board's serial ports.
    Serial,
}

impl WellKnown {
    /// Every well-known capability, in a stable order.
    pub const ALL: [WellKnown; 11] = [
        WellKnown::KeyValue,
        WellKnown::Messaging,
        WellKnown::HttpServer,
        WellKnown::HttpClient,
        WellKnown::Blobstore,
        WellKnown::Extras,
        WellKnown::Logging,
        WellKnown::Gpio,
        WellKnown::I2c,
        WellKnown::Spi,
        WellKnown::Serial,
    ];

    /// The canonical id, the spelling waSCC actors use on the wire.
    pub fn id(self) -> &'static str {
        match self {
            WellKnown::KeyValue => "wascc:keyvalue",
            WellKnown::Messaging => "wascc:messaging",
            WellKnown::HttpServer => "wascc:http_server",
            WellKnown::HttpClient => "wascc:http_client",
            WellKnown::Blobstore => "wascc:blobstore",
            WellKnown::Extras => "wascc:extras",
            WellKnown::Logging => "wascc:logging",
            WellKnown::Gpio => "iot:gpio",
            WellKnown::I2c => "iot:i2c",
            WellKnown::Spi => "iot:spi",
            WellKnown::Serial => "iot:serial",
        }
    }

    /// The name after the colon in the canonical id (`keyvalue`, `http_server`).
    pub fn short_name(self) -> &'static str {
        let id = self.id();
        &id[id.find(':').map_or(0, |i| i + 1)..]
    }

    /// Recognises any accepted spelling of a well-known id.
    pub fn from_id(id: &str) -> Option<WellKnown> {
        let (namespace, name) = id.split_once(':')?;
        let name = name.to_ascii_lowercase();
        let found = match namespace.to_ascii_lowercase().as_str() {
            "wascc" | "wascap" | "wasmcloud" => match name.as_str() {
                "keyvalue" => WellKnown::KeyValue,
                "messaging" => WellKnown::Messaging,
                "http_server" | "httpserver" => WellKnown::HttpServer,
                "http_client" | "httpclient" => WellKnown::HttpClient,
                "blobstore" => WellKnown::Blobstore,
                "extras" => WellKnown::Extras,
                "logging" => WellKnown::Logging,
                _ => return None,
            },
            "iot" | "wascc-iot" => match name.as_str() {
                "gpio" => WellKnown::Gpio,
                "i2c" => WellKnown::I2c,
                "spi" => WellKnown::Spi,
                "serial" => WellKnown::Serial,
                _ => return None,
            },
            _ => return None,
        };
        Some(found)
    }
}

/// A capability id in canonical form.
///
/// Well-known ids are rewritten to their waSCC spelling; any other
/// `namespace:name` id is kept as written, so custom capabilities still work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CapabilityId(String);

/// Why a string is not a capability id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a capability id: expected `namespace:name`, such as `wascc:keyvalue`")]
pub struct InvalidCapabilityId(pub String);

impl CapabilityId {
    /// Parses and canonicalises an id.
    pub fn parse(id: &str) -> Result<CapabilityId, InvalidCapabilityId> {
        if let Some(known) = WellKnown::from_id(id) {
            return Ok(CapabilityId(known.id().to_owned()));
        }
        let valid = id.split_once(':').is_some_and(|(ns, name)| {
            let ok = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            };
            ok(ns) && ok(name)
        });
        if valid {
            Ok(CapabilityId(id.to_owned()))
        } else {
            Err(InvalidCapabilityId(id.to_owned()))
        }
    }

    /// The canonical spelling.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The well-known capability this id names, if any.
    pub fn well_known(&self) -> Option<WellKnown> {
        WellKnown::from_id(&self.0)
    }

    /// Why this id is probably a mistake, or `None` when it is fine: an id
    /// in a namespace the well-known capabilities use (`wascc`, `wascap`,
    /// `wasmcloud`, `iot`) must be one of them, and an id of another
    /// namespace must not look like a misspelt one. A custom capability
    /// takes a namespace of its own (`acme:thermostat`), see
    /// docs/capabilities.md.
    pub fn doubt(&self) -> Option<String> {
        if self.well_known().is_some() {
            return None;
        }
        let known = WellKnown::ALL.map(WellKnown::id);
        let meant = provider_abi::suggest::closest(&self.0, known);
        let (namespace, _) = self.0.split_once(':').unwrap_or((&self.0, ""));
        let reserved = RESERVED_NAMESPACES.contains(&namespace.to_ascii_lowercase().as_str());
        match (meant, reserved) {
            (Some(meant), _) => Some(format!("`{self}` is not a capability host-edge knows (did you mean `{meant}`?)")),
            (None, true) => Some(format!(
                "`{self}` is not a capability host-edge knows, and `{namespace}:` is reserved for the well-known ones ({}); \
                 a capability of your own takes a namespace of its own, such as `acme:{}`",
                known.join(", "),
                self.0.split_once(':').map_or("thermostat", |(_, name)| name)
            )),
            (None, false) => None,
        }
    }
}

/// The namespaces of the well-known capabilities, in every spelling.
const RESERVED_NAMESPACES: [&str; 5] = ["wascc", "wascap", "wasmcloud", "iot", "wascc-iot"];

impl From<WellKnown> for CapabilityId {
    fn from(known: WellKnown) -> Self {
        CapabilityId(known.id().to_owned())
    }
}

impl TryFrom<String> for CapabilityId {
    type Error = InvalidCapabilityId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CapabilityId::parse(&s)
    }
}

impl From<CapabilityId> for String {
    fn from(id: CapabilityId) -> String {
        id.0
    }
}

impl fmt::Display for CapabilityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for CapabilityId {
    type Err = InvalidCapabilityId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CapabilityId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_well_known_id_is_doubted_with_the_id_meant() {
        let doubt = CapabilityId::parse("wascc:keyvalu").unwrap().doubt().unwrap();
        assert!(doubt.contains("did you mean `wascc:keyvalue`?"), "{doubt}");
        let doubt = CapabilityId::parse("wasc:http_client").unwrap().doubt().unwrap();
        assert!(doubt.contains("did you mean `wascc:http_client`?"), "{doubt}");
    }

    #[test]
    fn an_unknown_name_in_a_reserved_namespace_is_doubted_and_a_custom_namespace_is_not() {
        let doubt = CapabilityId::parse("wascc:thermostat").unwrap().doubt().unwrap();
        assert!(doubt.contains("`wascc:` is reserved for the well-known ones"), "{doubt}");
        assert!(doubt.contains("such as `acme:thermostat`"), "{doubt}");
        assert_eq!(CapabilityId::parse("acme:thermostat").unwrap().doubt(), None);
        assert_eq!(CapabilityId::parse("wasmcloud:httpserver").unwrap().doubt(), None);
        assert_eq!(CapabilityId::parse("iot:gpio").unwrap().doubt(), None);
    }

    #[test]
    fn every_spelling_of_a_well_known_id_is_the_same_capability() {
        for spelling in ["wascc:keyvalue", "wascap:keyvalue", "wasmcloud:keyvalue"] {
            assert_eq!(CapabilityId::parse(spelling).unwrap().as_str(), "wascc:keyvalue");
        }
        for spelling in ["wascc:http_server", "wascap:http_server", "wasmcloud:httpserver"] {
            assert_eq!(CapabilityId::parse(spelling).unwrap().as_str(), "wascc:http_server");
        }
        assert_eq!(CapabilityId::parse("wasmcloud:httpclient").unwrap().as_str(), "wascc:http_client");
    }

    #[test]
    fn custom_ids_are_kept_as_written() {
        assert_eq!(CapabilityId::parse("acme:weather").unwrap().as_str(), "acme:weather");
    }

    #[test]
    fn ids_without_a_namespace_are_refused() {
        assert!(CapabilityId::parse("keyvalue").is_err());
        assert!(CapabilityId::parse("wascc:").is_err());
        assert!(CapabilityId::parse("a b:c").is_err());
    }

    #[test]
    fn short_names_follow_the_canonical_id() {
        assert_eq!(WellKnown::HttpServer.short_name(), "http_server");
        assert_eq!(WellKnown::Gpio.short_name(), "gpio");
    }
}
