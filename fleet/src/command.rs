//! Signed fleet commands, and the device's verdict on each.
//!
//! A command is a JWT signed by an operator key ([`claims::jwt`]): who it
//! is for (`sub`, `device:ID` or `group:NAME`), a sequence number the
//! operator raises with every command, its issue time and expiry, and what
//! to do. The device obeys it only if every check passes ([`check`]):
//!
//! - it is a well-formed token with host-edge's header, signed by the key
//!   in `iss`, which is one of the device's operators;
//! - it is for this fleet (`aud`, the topic prefix: a command signed for a
//!   staging fleet cannot be replayed into production under the same
//!   operator key), for this device or one of its groups, and arrived on
//!   the topic that target and kind retain it under (a command cannot be
//!   moved to another channel to dodge its sequence);
//! - its sequence is above the last one accepted on that topic (and, for a
//!   deployment, above every deployment the device accepted, on any
//!   topic), and it was not signed before the last one accepted there: an
//!   older or replayed command is refused;
//! - it has not expired (`exp`, at most [`MAX_VALIDITY_SECS`] after `iat`)
//!   by the device's trusted clock: with the sequence marks lost (the state
//!   folder wiped), an old command can be replayed only within its
//!   validity. The only check that reads a clock, and one that fails closed
//!   when the device has no evidence of the time at all ([`check_expiry`]).
//!
//! Two exceptions, both for what the broker retains: a retained command the
//! broker hands over again when the device reconnects carries the retain
//! flag and the id of the command already applied, and is ignored quietly;
//! a retained command that is older than what the device has (a group's
//! deployment after a newer one for the device alone) is history, not an
//! attack, and is logged, not reported.

use std::collections::{BTreeMap, BTreeSet};

use nkeys::KeyPair;
use serde::{Deserialize, Serialize};

use host_edge_runtime::claims::clock::EARLIEST_BELIEVED;
use host_edge_runtime::claims::jwt::{self, JwtError};
use host_edge_runtime::claims::keys::{check_public_key, KeyRole};
use host_edge_runtime::claims::verify::stamp;

use super::deployment::Deployment;
use super::topics::{Kind, Target, TargetError, Topics};

/// What a command asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Order {
    /// Run this desired state.
    Deploy(Deployment),
    /// Refuse every token of `subject` issued before `issued_before`, and
    /// stop what runs under one.
    Revoke {
        /// The module key (`M…`).
        subject: String,
        /// Seconds since the epoch.
        issued_before: u64,
    },
}

/// The claims of a command token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandClaims {
    /// A unique id.
    pub jti: String,
    /// When the operator signed it, seconds since the epoch.
    pub iat: u64,
    /// When it expires, seconds since the epoch: at most
    /// [`MAX_VALIDITY_SECS`] after `iat`. 0 (a command signed before
    /// commands expired) is refused.
    #[serde(default)]
    pub exp: u64,
    /// The operator's key.
    pub iss: String,
    /// The fleet: the topic prefix its devices follow.
    pub aud: String,
    /// The target, `device:ID` or `group:NAME`.
    pub sub: String,
    /// The operator's sequence number: higher is newer.
    pub seq: u64,
    /// What to do.
    pub host_edge_fleet: Order,
}

impl CommandClaims {
    /// The topic this command is retained under.
    pub fn topic(&self, topics: &Topics) -> Result<String, TargetError> {
        let target: Target = self.sub.parse()?;
        Ok(match &self.host_edge_fleet {
            Order::Deploy(_) => topics.deploy(&target),
            Order::Revoke { subject, .. } => topics.revoke(&target, subject),
        })
    }

    /// `deploy` or `revoke`.
    pub fn kind(&self) -> &'static str {
        match self.host_edge_fleet {
            Order::Deploy(_) => "deploy",
            Order::Revoke { .. } => "revoke",
        }
    }
}

/// How long a command stays valid when the operator says nothing.
pub const DEFAULT_VALIDITY_SECS: u64 = 3600;

/// The longest a command may stay valid: a device refuses one signed for
/// longer. A command is a standing order only this long; a device whose
/// state is lost cannot be made to run an older one after it.
pub const MAX_VALIDITY_SECS: u64 = 30 * 86_400;

/// Signs `order` for `target` in the fleet under `topics`, with sequence
/// `seq`, issued at `now` and valid for `valid_for` seconds (1 to
/// [`MAX_VALIDITY_SECS`]).
pub fn sign(
    operator: &KeyPair,
    topics: &Topics,
    target: &Target,
    seq: u64,
    now: u64,
    valid_for: u64,
    order: Order,
) -> Result<(CommandClaims, String), JwtError> {
    if !(1..=MAX_VALIDITY_SECS).contains(&valid_for) {
        return Err(JwtError::Sign(format!("a command may be valid for 1 s to {} days, not {valid_for} s", MAX_VALIDITY_SECS / 86_400)));
    }
    if let Order::Revoke { subject, .. } = &order {
        check_public_key(subject, KeyRole::Module).map_err(|e| JwtError::Sign(e.to_string()))?;
    }
    if let Order::Deploy(deployment) = &order {
        deployment.validate().map_err(|e| JwtError::Sign(e.to_string()))?;
    }
    let claims = CommandClaims {
        jti: nuid::next().to_string(),
        iat: now,
        exp: now.saturating_add(valid_for),
        iss: operator.public_key(),
        aud: topics.prefix().to_owned(),
        sub: target.to_string(),
        seq,
        host_edge_fleet: order,
    };
    let token = jwt::encode(&claims, operator)?;
    Ok((claims, token))
}

/// The last command accepted on one topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Its sequence.
    pub seq: u64,
    /// Its id.
    pub jti: String,
    /// When it was signed (0 in a mark kept before this was).
    #[serde(default)]
    pub iat: u64,
}

/// What the device knows when it judges a command.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    /// Its id.
    pub device: &'a str,
    /// Its groups.
    pub groups: &'a BTreeSet<String>,
    /// The operators it obeys.
    pub operators: &'a BTreeSet<String>,
    /// Its topics.
    pub topics: &'a Topics,
    /// The last command accepted per topic.
    pub marks: &'a BTreeMap<String, Mark>,
    /// The highest sequence of a deployment it accepted, on any topic
    /// (0: none).
    pub deployment: u64,
    /// Now, by the device's trusted clock (the system clock, never behind
    /// the latest signed time seen), seconds since the epoch.
    pub now: u64,
}

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    /// Not a signed token, or not one of host-edge's.
    Unsigned,
    /// The signature does not verify with the key in `iss`.
    BadSignature,
    /// Signed by a key the device does not obey.
    UntrustedOperator,
    /// For another fleet, another device or a group the device is not in,
    /// or on the wrong topic; or a deployment the device cannot run (a
    /// malformed one).
    NotForThisDevice,
    /// The very command already applied, sent again.
    Replayed,
    /// A sequence at or below the last one accepted, or signed before it.
    Older,
    /// Past its expiry, with no expiry, or valid for longer than
    /// [`MAX_VALIDITY_SECS`].
    Expired,
    /// The device has no evidence of the time (its clock was never set and
    /// it has seen no signed time), so it cannot tell whether the command
    /// expired: refused until it does.
    ClockUnknown,
}

impl Refusal {
    /// The kebab-case name, as events carry it.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Unsigned => "unsigned",
            Refusal::BadSignature => "bad-signature",
            Refusal::UntrustedOperator => "untrusted-operator",
            Refusal::NotForThisDevice => "not-for-this-device",
            Refusal::Replayed => "replayed",
            Refusal::Older => "older",
            Refusal::Expired => "expired",
            Refusal::ClockUnknown => "clock-unknown",
        }
    }
}

/// The device's verdict on a message on a command topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Obey it.
    Accept(Box<CommandClaims>),
    /// The retained copy of the command already applied: nothing to do.
    AlreadyApplied,
    /// A retained command older than what the device has: history.
    Outdated(String),
    /// Refuse it, for this reason; the text says more.
    Refuse {
        /// Why.
        why: Refusal,
        /// What was seen.
        detail: String,
        /// The command's id and sequence, when it could be read.
        command: Option<(String, u64)>,
    },
}

/// Judges `payload`, which arrived on `topic` (`retained` when the broker
/// delivered it from its store).
pub fn check(judge: Judge<'_>, topic: &str, payload: &[u8], retained: bool) -> Verdict {
    let refuse = |why, detail: String, command: Option<(String, u64)>| Verdict::Refuse { why, detail, command };
    let Ok(text) = std::str::from_utf8(payload) else {
        return refuse(Refusal::Unsigned, "the payload is not text, let alone a signed token".to_owned(), None);
    };
    let signed: jwt::Signed<CommandClaims> = match jwt::decode(text, KeyRole::Operator) {
        Ok(signed) => signed,
        Err(JwtError::Signature(key)) => {
            return refuse(Refusal::BadSignature, format!("the signature does not verify with {key}"), None)
        }
        Err(e @ JwtError::Issuer(_)) => return refuse(Refusal::UntrustedOperator, e.to_string(), None),
        Err(e) => return refuse(Refusal::Unsigned, e.to_string(), None),
    };
    let claims = signed.claims;
    let command = Some((claims.jti.clone(), claims.seq));
    if !judge.operators.contains(&claims.iss) {
        return refuse(Refusal::UntrustedOperator, format!("signed by {}, which is not one of this device's operators", claims.iss), command);
    }
    let for_me = match claims.sub.parse::<Target>() {
        Ok(Target::Device(id)) => id == judge.device,
        Ok(Target::Group(group)) => judge.groups.contains(&group),
        Err(_) => false,
    };
    if claims.aud != judge.topics.prefix() {
        return refuse(Refusal::NotForThisDevice, format!("it is for the fleet under {}, not {}", claims.aud, judge.topics.prefix()), command);
    }
    if !for_me {
        return refuse(Refusal::NotForThisDevice, format!("it is for {}", claims.sub), command);
    }
    if let Order::Deploy(deployment) = &claims.host_edge_fleet {
        if let Err(e) = deployment.validate() {
            return refuse(Refusal::NotForThisDevice, format!("the deployment cannot be run: {e}"), command);
        }
    }
    match claims.topic(judge.topics) {
        Ok(expected) if expected == topic => {}
        Ok(expected) => {
            return refuse(Refusal::NotForThisDevice, format!("it belongs on {expected}, and arrived on {topic}"), command)
        }
        Err(e) => return refuse(Refusal::NotForThisDevice, e.to_string(), command),
    }
    if let (Some(Kind::Revoke(_, subject)), Order::Revoke { subject: signed_subject, .. }) =
        (judge.topics.parse(topic), &claims.host_edge_fleet)
    {
        if &subject != signed_subject {
            return refuse(Refusal::NotForThisDevice, format!("it revokes {signed_subject}, on the topic of {subject}"), command);
        }
    }
    if let Some(mark) = judge.marks.get(topic) {
        if mark.jti == claims.jti {
            if retained {
                return Verdict::AlreadyApplied;
            }
            return refuse(Refusal::Replayed, format!("command {} (sequence {}) was applied already", claims.jti, claims.seq), command);
        }
        if claims.seq <= mark.seq {
            let why = format!("its sequence {} is not above {}, the last accepted on {topic}", claims.seq, mark.seq);
            return if retained { Verdict::Outdated(why) } else { refuse(Refusal::Older, why, command) };
        }
        if claims.iat < mark.iat {
            let why = format!(
                "it was signed at {}, before {}, when the last command accepted on {topic} was",
                stamp(claims.iat),
                stamp(mark.iat)
            );
            return if retained { Verdict::Outdated(why) } else { refuse(Refusal::Older, why, command) };
        }
    }
    if matches!(claims.host_edge_fleet, Order::Deploy(_)) && claims.seq <= judge.deployment {
        let why = format!("its sequence {} is not above {}, the newest deployment the device accepted", claims.seq, judge.deployment);
        return if retained { Verdict::Outdated(why) } else { refuse(Refusal::Older, why, command) };
    }
    if let Err((why, detail)) = check_expiry(&claims, judge.now) {
        return refuse(why, detail, command);
    }
    Verdict::Accept(Box::new(claims))
}

/// Whether `claims` is still valid at `now` (the device's trusted clock).
///
/// The expiry is what stands between an old signed command and a device
/// that lost its state (and with it every sequence mark): past it, the
/// command is refused whatever the device remembers. A command without
/// an expiry, or signed valid for longer than [`MAX_VALIDITY_SECS`], is
/// refused. A device with no evidence of the time at all (a clock never
/// set, before [`EARLIEST_BELIEVED`], and no signed time seen) cannot tell,
/// and refuses: fail closed. A clock set back, or unset while the device
/// has seen a signed time, reads that signed time, as for actor tokens
/// ([`TrustedClock`](host_edge_runtime::claims::TrustedClock)).
fn check_expiry(claims: &CommandClaims, now: u64) -> Result<(), (Refusal, String)> {
    if claims.exp == 0 {
        return Err((Refusal::Expired, "it carries no expiry (`exp`); sign it again with this host-edge".to_owned()));
    }
    if claims.exp.saturating_sub(claims.iat) > MAX_VALIDITY_SECS {
        return Err((
            Refusal::Expired,
            format!("it is valid until {}, more than {} days after it was signed", stamp(claims.exp), MAX_VALIDITY_SECS / 86_400),
        ));
    }
    if now < EARLIEST_BELIEVED {
        return Err((
            Refusal::ClockUnknown,
            format!(
                "the device's clock reads {} and it has seen no signed time, so it cannot tell whether the command expired; \
                 it reads the retained commands again once its clock is set",
                stamp(now)
            ),
        ));
    }
    if now >= claims.exp {
        return Err((Refusal::Expired, format!("it expired at {}; the device's clock reads {}", stamp(claims.exp), stamp(now))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use host_edge_runtime::claims::keys::generate;

    struct Device {
        groups: BTreeSet<String>,
        operators: BTreeSet<String>,
        topics: Topics,
        marks: BTreeMap<String, Mark>,
        operator: KeyPair,
        /// The device's trusted clock.
        now: u64,
    }

    impl Device {
        fn new() -> Device {
            let operator = generate(KeyRole::Operator);
            Device {
                groups: ["all".to_owned(), "kitchen".to_owned()].into(),
                operators: [operator.public_key()].into(),
                topics: Topics::new("fleet").unwrap(),
                marks: BTreeMap::new(),
                operator,
                now: SIGNED + 60,
            }
        }

        fn judge(&self, topic: &str, token: &str, retained: bool) -> Verdict {
            let judge = Judge {
                device: "pi-1",
                groups: &self.groups,
                operators: &self.operators,
                topics: &self.topics,
                marks: &self.marks,
                deployment: 0,
                now: self.now,
            };
            check(judge, topic, token.as_bytes(), retained)
        }

        fn deploy(&self, target: &str, seq: u64) -> (CommandClaims, String) {
            self.deploy_signed_at(target, seq, SIGNED, DEFAULT_VALIDITY_SECS)
        }

        fn deploy_signed_at(&self, target: &str, seq: u64, iat: u64, valid_for: u64) -> (CommandClaims, String) {
            let order = Order::Deploy(Deployment {
                label: Some("test".into()),
                actors: vec![],
                providers: vec![],
                links: vec![],
                checks: vec![],
                probe_timeout: None,
            });
            sign(&self.operator, &self.topics, &target.parse().unwrap(), seq, iat, valid_for, order).unwrap()
        }
    }

    /// When the commands of these tests are signed.
    const SIGNED: u64 = 1_800_000_000;

    fn why(verdict: Verdict) -> Refusal {
        match verdict {
            Verdict::Refuse { why, .. } => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_signed_command_for_the_devices_group_on_its_topic_is_accepted() {
        let device = Device::new();
        let (claims, token) = device.deploy("group:kitchen", 5);
        let topic = claims.topic(&device.topics).unwrap();
        assert_eq!(topic, "fleet/groups/kitchen/deploy");
        assert!(matches!(device.judge(&topic, &token, false), Verdict::Accept(c) if c.seq == 5));
    }

    #[test]
    fn unsigned_wrongly_signed_and_foreign_commands_are_refused_by_name() {
        let device = Device::new();
        let (claims, token) = device.deploy("device:pi-1", 5);
        let topic = claims.topic(&device.topics).unwrap();
        assert_eq!(why(device.judge(&topic, "{\"seq\": 9}", false)), Refusal::Unsigned);
        let stranger = generate(KeyRole::Operator);
        let revoke = || Order::Revoke { subject: generate(KeyRole::Module).public_key(), issued_before: 1 };
        let (_, foreign) = sign(&stranger, &device.topics, &Target::Device("pi-1".into()), 6, SIGNED, 60, revoke()).unwrap();
        assert_eq!(why(device.judge(&topic, &foreign, false)), Refusal::UntrustedOperator);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[2] = parts[2].chars().rev().collect();
        assert_eq!(why(device.judge(&topic, &parts.join("."), false)), Refusal::BadSignature);
        let (other_claims, other) = device.deploy("device:pi-2", 5);
        assert_eq!(why(device.judge(&other_claims.topic(&device.topics).unwrap(), &other, false)), Refusal::NotForThisDevice);
        assert_eq!(why(device.judge("fleet/groups/kitchen/deploy", &token, false)), Refusal::NotForThisDevice, "moved to another topic");
        let staging = Topics::new("staging").unwrap();
        let (elsewhere, token) = sign(&device.operator, &staging, &Target::Device("pi-1".into()), 7, SIGNED, 60, revoke()).unwrap();
        let moved = elsewhere.topic(&device.topics).unwrap();
        assert_eq!(why(device.judge(&moved, &token, false)), Refusal::NotForThisDevice, "signed for another fleet");
    }

    #[test]
    fn a_replayed_or_older_command_is_refused_and_the_retained_copy_of_the_last_one_is_ignored() {
        let mut device = Device::new();
        let (claims, token) = device.deploy("device:pi-1", 5);
        let topic = claims.topic(&device.topics).unwrap();
        device.marks.insert(topic.clone(), Mark { seq: 5, jti: claims.jti.clone(), iat: SIGNED });
        assert_eq!(device.judge(&topic, &token, true), Verdict::AlreadyApplied);
        assert_eq!(why(device.judge(&topic, &token, false)), Refusal::Replayed);
        let (_, older) = device.deploy("device:pi-1", 4);
        assert_eq!(why(device.judge(&topic, &older, false)), Refusal::Older);
        assert!(matches!(device.judge(&topic, &older, true), Verdict::Outdated(_)), "retained history is not an attack");
        let (_, newer) = device.deploy("device:pi-1", 6);
        assert!(matches!(device.judge(&topic, &newer, true), Verdict::Accept(_)));
    }

    /// With its state folder wiped, a device has no sequence marks: any
    /// old signed command (a rollback to a vulnerable version) would be
    /// obeyed again. Past its expiry it is refused whatever the device
    /// remembers.
    #[test]
    fn an_old_command_replayed_to_a_device_that_lost_its_state_is_refused_once_expired() {
        let mut device = Device::new();
        let (claims, token) = device.deploy_signed_at("device:pi-1", 5, SIGNED, 3600);
        assert_eq!(claims.exp, SIGNED + 3600);
        let topic = claims.topic(&device.topics).unwrap();
        assert!(matches!(device.judge(&topic, &token, false), Verdict::Accept(_)), "within its validity");
        device.now = SIGNED + 3600;
        assert_eq!(why(device.judge(&topic, &token, false)), Refusal::Expired);
        assert_eq!(why(device.judge(&topic, &token, true)), Refusal::Expired, "retained on the broker, and expired");
    }

    /// A command with no expiry (signed before commands had one), or valid
    /// for years, would be a standing order anyone could replay.
    #[test]
    fn a_command_without_an_expiry_or_valid_beyond_the_bound_is_refused() {
        let device = Device::new();
        let (mut claims, _) = device.deploy("device:pi-1", 5);
        let topic = claims.topic(&device.topics).unwrap();
        claims.exp = 0;
        let forever = jwt::encode(&claims, &device.operator).unwrap();
        assert_eq!(why(device.judge(&topic, &forever, false)), Refusal::Expired);
        claims.exp = SIGNED + MAX_VALIDITY_SECS + 1;
        let long = jwt::encode(&claims, &device.operator).unwrap();
        assert_eq!(why(device.judge(&topic, &long, false)), Refusal::Expired);
        assert!(sign(&device.operator, &device.topics, &Target::Device("pi-1".into()), 6, SIGNED, MAX_VALIDITY_SECS + 1, Order::Revoke {
            subject: generate(KeyRole::Module).public_key(),
            issued_before: 1
        })
        .is_err(), "the operator's side refuses to sign it");
    }

    /// A device whose clock was never set (1970) and that has seen no
    /// signed time cannot tell an expired command from a valid one: it
    /// refuses rather than trusts.
    #[test]
    fn with_no_evidence_of_the_time_a_replayed_command_is_refused_not_trusted() {
        let mut device = Device::new();
        let (claims, token) = device.deploy_signed_at("device:pi-1", 5, SIGNED, 3600);
        let topic = claims.topic(&device.topics).unwrap();
        device.now = 86_400;
        assert_eq!(why(device.judge(&topic, &token, false)), Refusal::ClockUnknown);
    }

    /// A command signed before the last one accepted on its topic (by a
    /// second operator machine, with a higher sequence of its own) is older,
    /// whatever its sequence says.
    #[test]
    fn a_command_signed_before_the_last_one_accepted_on_its_topic_is_refused_as_older() {
        let mut device = Device::new();
        let (claims, token) = device.deploy_signed_at("device:pi-1", 9, SIGNED - 600, 3600);
        let topic = claims.topic(&device.topics).unwrap();
        device.marks.insert(topic.clone(), Mark { seq: 5, jti: "last".into(), iat: SIGNED });
        assert_eq!(why(device.judge(&topic, &token, false)), Refusal::Older);
    }
}
