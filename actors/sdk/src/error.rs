//! Why a host call failed, with the host's own words.

/// The result of a handler: any error converts into it with `?`, and its
/// text becomes the error the host reports for the call.
pub type HandlerResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A host call that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The host or the provider refused or failed the call (no link, a
    /// missing grant, a store that is down, ...).
    Host {
        /// The link the call went to.
        binding: String,
        /// The capability called.
        capability: &'static str,
        /// The operation called.
        operation: &'static str,
        /// The host's message, unchanged.
        message: String,
    },
    /// A message could not be encoded, or a reply decoded.
    Codec {
        /// The capability called.
        capability: &'static str,
        /// The operation called.
        operation: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The actor asked for something the client refuses before calling
    /// (a zero chunk size, a reply to a message that wants none).
    Invalid(String),
}

impl Error {
    /// The host's message for a failed call, or this error's text.
    pub fn message(&self) -> &str {
        match self {
            Error::Host { message, .. } | Error::Codec { message, .. } | Error::Invalid(message) => message,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The host's message already names the capability and what was
            // refused; repeating them would only bury it.
            Error::Host { message, .. } => f.write_str(message),
            Error::Codec { capability, operation, message } => write!(f, "{capability} {operation}: {message}"),
            Error::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}
