//! Typed outcomes: why a call across the boundary failed, as a code both
//! sides and the actor can tell apart.
//!
//! A failed call carries an [`ErrorKind`] (its status code on the C side) and
//! a UTF-8 message. The HTTP server turns the kind into a status (403, 500,
//! 502, 503, 504); the host writes it in front of the text an actor receives
//! from `__host_error` (`denied: …`), so an actor can tell the kinds apart too.

use std::fmt;

/// Why a call failed. The discriminant is the status code on the C side;
/// `0` is success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorKind {
    /// Any other failure: the callee answered with an error of its own.
    Failed = 1,
    /// Refused by the signed claims or by a grant.
    Denied = 2,
    /// No link serves the capability (or the actor is not bound).
    NotLinked = 3,
    /// The actor trapped (a panic, `unreachable`, a bad memory access, a
    /// memory limit).
    Trapped = 4,
    /// The actor used up its fuel budget for the call.
    OutOfFuel = 5,
    /// No answer within the time allowed.
    TimedOut = 6,
    /// The backend (a database, a broker, the actor itself) is not reachable
    /// or not running now; trying again later may work.
    Unavailable = 7,
    /// The request itself is malformed or names something that cannot be.
    BadRequest = 8,
}

impl ErrorKind {
    /// Every kind, in code order.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::Failed,
        ErrorKind::Denied,
        ErrorKind::NotLinked,
        ErrorKind::Trapped,
        ErrorKind::OutOfFuel,
        ErrorKind::TimedOut,
        ErrorKind::Unavailable,
        ErrorKind::BadRequest,
    ];

    /// The status code on the C side.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The kind for a C status code; unknown non-zero codes (a newer
    /// provider) read as [`ErrorKind::Failed`]. `None` for `0`, success.
    pub fn from_code(code: i32) -> Option<ErrorKind> {
        if code == 0 {
            return None;
        }
        Some(ErrorKind::ALL.into_iter().find(|k| k.code() == code).unwrap_or(ErrorKind::Failed))
    }

    /// The stable tag written in front of error texts (`denied`).
    pub fn tag(self) -> &'static str {
        match self {
            ErrorKind::Failed => "failed",
            ErrorKind::Denied => "denied",
            ErrorKind::NotLinked => "not-linked",
            ErrorKind::Trapped => "trapped",
            ErrorKind::OutOfFuel => "out-of-fuel",
            ErrorKind::TimedOut => "timed-out",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::BadRequest => "bad-request",
        }
    }

    /// Reads the tag back from the front of an error text written by
    /// [`Failure`]'s `Display` (`denied: …`).
    pub fn from_text(text: &str) -> Option<ErrorKind> {
        let (tag, _) = text.split_once(": ")?;
        ErrorKind::ALL.into_iter().find(|k| k.tag() == tag)
    }

    /// The HTTP status that fits an actor call that failed this way.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::Denied => 403,
            ErrorKind::NotLinked | ErrorKind::Unavailable => 503,
            ErrorKind::TimedOut => 504,
            ErrorKind::Failed | ErrorKind::Trapped | ErrorKind::OutOfFuel | ErrorKind::BadRequest => 500,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A failed call: its kind and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Failure {
    /// Why, as a code.
    pub kind: ErrorKind,
    /// What, for a person.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failure {
        Failure { kind, message: message.into() }
    }

    /// Reads a failure from a C status code and its message bytes.
    pub fn from_status(code: i32, message: &[u8]) -> Failure {
        Failure {
            kind: ErrorKind::from_code(code).unwrap_or(ErrorKind::Failed),
            message: String::from_utf8_lossy(message).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_code_and_its_tag() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
            let text = Failure::new(kind, "why").to_string();
            assert_eq!(ErrorKind::from_text(&text), Some(kind), "{text}");
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(77), Some(ErrorKind::Failed));
    }

    #[test]
    fn kinds_map_to_the_http_statuses_that_fit() {
        assert_eq!(ErrorKind::Denied.http_status(), 403);
        assert_eq!(ErrorKind::Trapped.http_status(), 500);
        assert_eq!(ErrorKind::Unavailable.http_status(), 503);
        assert_eq!(ErrorKind::TimedOut.http_status(), 504);
    }
}
