//! Where fleet messages live on the broker.
//!
//! Under a prefix (default `host-edge/fleet`):
//!
//! | topic | retained | what |
//! |---|---|---|
//! | `devices/ID/deploy`, `groups/G/deploy` | yes | the latest signed deployment for a device or group |
//! | `devices/ID/revoke/M…`, `groups/G/revoke/M…` | yes | the latest signed revocation of one module key |
//! | `modules/SHA256/SIZE/N` | yes | chunk N of a module or provider archive, in chunks of SIZE bytes, for devices to stage |
//! | `devices/ID/status` | yes | the device's status, republished every heartbeat |
//! | `devices/ID/online` | yes | `online`, or `offline` (the last will) |
//! | `devices/ID/events` | no | refusals and deployment outcomes, as they happen |
//!
//! Commands are retained so that a device that was offline gets the latest
//! one the moment it reconnects; revocations get a topic each, so that every
//! one of them is kept, not just the last.

use std::fmt;

/// The group every device is in: commands for the whole fleet.
pub const ALL_GROUP: &str = "all";

/// Why a text cannot be one MQTT topic level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    /// Nothing.
    #[error("it is empty")]
    Empty,
    /// A separator, a wildcard or NUL.
    #[error("`{text}` holds `{found}`, which cannot be part of one MQTT topic level")]
    Forbidden {
        /// The text.
        text: String,
        /// The character that cannot be in a level.
        found: char,
    },
    /// Over 128 bytes.
    #[error("`{0}` is longer than 128 bytes")]
    TooLong(String),
}

/// Why a text is not a command's target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Neither `device:ID` nor `group:NAME`.
    #[error("`{0}` is not a target; write device:ID or group:NAME")]
    Form(String),
    /// The id or group cannot be a topic level.
    #[error("`{text}`: {problem}")]
    Level {
        /// The target as written.
        text: String,
        /// What is wrong with its id or group.
        problem: LevelError,
    },
}

/// Checks that `text` can be one topic level: not empty, no `/`, `+`, `#`
/// or NUL.
pub fn check_level(text: &str) -> Result<(), LevelError> {
    if text.is_empty() {
        return Err(LevelError::Empty);
    }
    if let Some(found) = text.chars().find(|c| matches!(c, '/' | '+' | '#' | '\0')) {
        return Err(LevelError::Forbidden { text: text.to_owned(), found });
    }
    if text.len() > 128 {
        return Err(LevelError::TooLong(text.to_owned()));
    }
    Ok(())
}

/// Whom a command is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// One device, by id.
    Device(String),
    /// Every device in a group.
    Group(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Device(id) => write!(f, "device:{id}"),
            Target::Group(group) => write!(f, "group:{group}"),
        }
    }
}

impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<Target, TargetError> {
        let target = match text.split_once(':') {
            Some(("device", id)) => Target::Device(id.to_owned()),
            Some(("group", group)) => Target::Group(group.to_owned()),
            _ => return Err(TargetError::Form(text.to_owned())),
        };
        match &target {
            Target::Device(level) | Target::Group(level) => {
                check_level(level).map_err(|problem| TargetError::Level { text: text.to_owned(), problem })?
            }
        }
        Ok(target)
    }
}

/// What a topic under the prefix is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A deployment for `Target`.
    Deploy(Target),
    /// A revocation of a module key, for `Target`.
    Revoke(Target, String),
    /// Chunk `index` of the module or provider archive with SHA-256
    /// `sha256`, cut in chunks of `size` bytes.
    Chunk {
        /// The module's SHA-256, lower-case hex.
        sha256: String,
        /// The chunk size.
        size: u32,
        /// The chunk's index.
        index: u32,
    },
    /// A device's status.
    Status(String),
    /// A device's presence.
    Online(String),
    /// A device's events.
    Events(String),
}

/// The fleet's topics under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    /// Topics under `prefix` (levels separated by `/`, no wildcards).
    pub fn new(prefix: &str) -> Result<Topics, LevelError> {
        let prefix = prefix.trim_end_matches('/');
        for level in prefix.split('/') {
            check_level(level)?;
        }
        Ok(Topics { prefix: prefix.to_owned() })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn target(&self, target: &Target) -> String {
        match target {
            Target::Device(id) => format!("{}/devices/{id}", self.prefix),
            Target::Group(group) => format!("{}/groups/{group}", self.prefix),
        }
    }

    /// Where deployments for `target` are retained.
    pub fn deploy(&self, target: &Target) -> String {
        format!("{}/deploy", self.target(target))
    }

    /// Where the revocation of `subject` for `target` is retained.
    pub fn revoke(&self, target: &Target, subject: &str) -> String {
        format!("{}/revoke/{subject}", self.target(target))
    }

    /// Chunk `index` of the module or archive `sha256` cut in chunks of `size` bytes
    /// (the size is in the topic, so chunks of an earlier cut never mix in).
    pub fn chunk(&self, sha256: &str, size: u32, index: u32) -> String {
        format!("{}/modules/{sha256}/{size}/{index}", self.prefix)
    }

    /// Every chunk of the module or archive `sha256` in chunks of `size` bytes.
    pub fn chunks(&self, sha256: &str, size: u32) -> String {
        format!("{}/modules/{sha256}/{size}/+", self.prefix)
    }

    /// A device's status.
    pub fn status(&self, device: &str) -> String {
        format!("{}/devices/{device}/status", self.prefix)
    }

    /// A device's presence.
    pub fn online(&self, device: &str) -> String {
        format!("{}/devices/{device}/online", self.prefix)
    }

    /// A device's events.
    pub fn events(&self, device: &str) -> String {
        format!("{}/devices/{device}/events", self.prefix)
    }

    /// What every device publishes, for the operator to follow: statuses,
    /// presence and events of the whole fleet.
    pub fn every_device(&self) -> [String; 3] {
        ["status", "online", "events"].map(|what| format!("{}/devices/+/{what}", self.prefix))
    }

    /// The filters a device subscribes to for its commands.
    pub fn commands_for<'a>(&self, device: &str, groups: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let mut targets = vec![Target::Device(device.to_owned())];
        targets.extend(groups.into_iter().map(|g| Target::Group(g.clone())));
        targets
            .iter()
            .flat_map(|target| [self.deploy(target), format!("{}/revoke/+", self.target(target))])
            .collect()
    }

    /// What `topic` is, when it is one of the fleet's.
    pub fn parse(&self, topic: &str) -> Option<Kind> {
        let rest = topic.strip_prefix(&self.prefix)?.strip_prefix('/')?;
        let levels: Vec<&str> = rest.split('/').collect();
        let target = |kind: &str, name: &str| match kind {
            "devices" => Some(Target::Device(name.to_owned())),
            "groups" => Some(Target::Group(name.to_owned())),
            _ => None,
        };
        match levels[..] {
            [kind, name, "deploy"] => Some(Kind::Deploy(target(kind, name)?)),
            [kind, name, "revoke", subject] => Some(Kind::Revoke(target(kind, name)?, subject.to_owned())),
            ["modules", sha256, size, index] => {
                Some(Kind::Chunk { sha256: sha256.to_owned(), size: size.parse().ok()?, index: index.parse().ok()? })
            }
            ["devices", id, "status"] => Some(Kind::Status(id.to_owned())),
            ["devices", id, "online"] => Some(Kind::Online(id.to_owned())),
            ["devices", id, "events"] => Some(Kind::Events(id.to_owned())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_reads_back_as_what_it_is() {
        let topics = Topics::new("acme/fleet/").unwrap();
        let kitchen = Target::Group("kitchen".into());
        assert_eq!(topics.deploy(&kitchen), "acme/fleet/groups/kitchen/deploy");
        assert_eq!(topics.parse(&topics.deploy(&kitchen)), Some(Kind::Deploy(kitchen.clone())));
        let revoke = topics.revoke(&Target::Device("pi-1".into()), "MABC");
        assert_eq!(topics.parse(&revoke), Some(Kind::Revoke(Target::Device("pi-1".into()), "MABC".into())));
        assert_eq!(topics.parse(&topics.chunk("ab12", 65536, 7)), Some(Kind::Chunk { sha256: "ab12".into(), size: 65536, index: 7 }));
        assert_eq!(topics.parse("acme/fleet/devices/pi-1/status"), Some(Kind::Status("pi-1".into())));
        assert_eq!(topics.parse("other/devices/pi-1/status"), None);
        assert_eq!(
            topics.commands_for("pi-1", &["all".to_owned()]),
            ["acme/fleet/devices/pi-1/deploy", "acme/fleet/devices/pi-1/revoke/+", "acme/fleet/groups/all/deploy", "acme/fleet/groups/all/revoke/+"]
        );
    }

    #[test]
    fn targets_read_as_written_and_bad_ones_are_named() {
        assert_eq!("device:pi-1".parse::<Target>().unwrap(), Target::Device("pi-1".into()));
        assert_eq!("group:all".parse::<Target>().unwrap().to_string(), "group:all");
        assert!("pi-1".parse::<Target>().unwrap_err().to_string().contains("device:ID or group:NAME"));
        assert!("device:a/b".parse::<Target>().unwrap_err().to_string().contains("`/`"));
    }
}
