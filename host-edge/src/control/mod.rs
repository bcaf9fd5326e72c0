//! The local control socket: how `host-edge ctl` talks to a running host.
//!
//! A host on a board is changed while it runs (replace an actor, link it to
//! another provider) without a restart that would drop every connection and
//! every actor's state. The way in is a Unix stream socket on the board
//! itself, carrying newline-delimited JSON ([`protocol`]): one [`Request`] a
//! line, one [`Response`] line for each, several per connection if the
//! client likes.
//!
//! The socket is the host's whole authority, so it is owner-only twice over:
//! the socket file is mode 0600 from the moment it has its name, and the
//! [`server`] checks every peer's uid with `SO_PEERCRED`, allowing only the
//! host's own user and root. The [`client`] checks the server the same way,
//! so `ctl` does not hand commands to an impostor.
//!
//! - [`protocol`]: the request and response types and the line framing;
//! - [`server`]: [`ControlServer`], which accepts connections and passes
//!   each request to a handler (the host's `status` and `execute`);
//! - [`client`]: [`request`], one request and its response.

pub mod client;
pub mod protocol;
pub mod server;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use client::request;
pub use protocol::{Request, Response, MAX_REQUEST_LINE, MAX_RESPONSE_LINE};
pub use server::{ControlServer, Handler};

/// The environment variable naming the control socket, for both `run` and
/// `ctl`; `--socket` overrides it.
pub const SOCKET_ENV: &str = "HOST_EDGE_CONTROL";

/// The longest path a Unix socket address can hold (`sun_path` is 108 bytes,
/// the last one the terminating NUL).
pub const MAX_SOCKET_PATH: usize = 107;

/// Why the control socket could not be served or reached.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Nothing listens on the socket path (no file, or a stale one).
    #[error(
        "no host-edge is listening on {}: is it running, and is this the control socket it was started with?",
        path.display()
    )]
    NotListening {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket (or its folder) is not accessible to this user.
    #[error(
        "permission denied on {}: the control socket is owner-only; run this as the user the host runs as, or as root",
        path.display()
    )]
    PermissionDenied {
        /// The socket path.
        path: PathBuf,
    },
    /// A live host already answers on the path the server was to bind.
    #[error(
        "another host-edge is already listening on {}; stop it first, or give this host another control socket",
        path.display()
    )]
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// Something that is not a socket sits where the socket should go.
    #[error("{} exists and is not a socket; refusing to replace it", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The socket's folder could be changed by another user, who could then
    /// swap the socket for their own.
    #[error("unsafe folder for the control socket {}: {reason}", path.display())]
    UnsafeFolder {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The path does not fit in a Unix socket address.
    #[error(
        "control socket path {} is too long: a Unix socket path may have at most {MAX_SOCKET_PATH} bytes",
        path.display()
    )]
    PathTooLong {
        /// The path.
        path: PathBuf,
    },
    /// The process answering on the socket runs as another user.
    #[error(
        "the process listening on {} runs as uid {uid}, neither this user nor root; refusing to talk to it",
        path.display()
    )]
    UntrustedPeer {
        /// The socket path.
        path: PathBuf,
        /// The peer's uid.
        uid: u32,
    },
    /// The host did not answer in time.
    #[error("no answer from the host on {} within {}", path.display(), humantime::format_duration(*timeout))]
    Timeout {
        /// The socket path.
        path: PathBuf,
        /// How long the client waited.
        timeout: Duration,
    },
    /// The host closed the connection before it answered.
    #[error("the host on {} closed the connection without answering", path.display())]
    Closed {
        /// The socket path.
        path: PathBuf,
    },
    /// A message could not be encoded or decoded.
    #[error("{0}")]
    Protocol(String),
    /// Any other I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What failed (names the path).
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl ControlError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> ControlError {
        ControlError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Where the host listens, and `ctl` connects, unless told otherwise:
///
/// 1. `$RUNTIME_DIRECTORY/control.sock` when `RUNTIME_DIRECTORY` is set (a
///    systemd unit with `RuntimeDirectory=`; the first entry if it lists
///    several);
/// 2. `/run/host-edge/control.sock` when running as root;
/// 3. `$XDG_RUNTIME_DIR/host-edge/control.sock` when that is set;
/// 4. `/tmp/host-edge-<uid>/control.sock`.
pub fn default_socket_path() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    socket_path_from(
        std::env::var_os("RUNTIME_DIRECTORY"),
        uid,
        std::env::var_os("XDG_RUNTIME_DIR"),
    )
}

/// [`default_socket_path`] for given environment values, so it can be tested.
fn socket_path_from(runtime_directory: Option<OsString>, uid: u32, xdg_runtime_dir: Option<OsString>) -> PathBuf {
    const FILE: &str = "control.sock";
    let set = |value: Option<OsString>| value.filter(|v| !v.is_empty());
    if let Some(dirs) = set(runtime_directory) {
        // systemd joins several RuntimeDirectory= entries with ':'.
        let first = std::env::split_paths(&dirs).next().unwrap_or_else(|| PathBuf::from(&dirs));
        if !first.as_os_str().is_empty() {
            return first.join(FILE);
        }
    }
    if uid == 0 {
        return Path::new("/run/host-edge").join(FILE);
    }
    if let Some(xdg) = set(xdg_runtime_dir) {
        return PathBuf::from(xdg).join("host-edge").join(FILE);
    }
    PathBuf::from(format!("/tmp/host-edge-{uid}")).join(FILE)
}

/// The uid of the process at the other end of a Unix stream socket.
pub(crate) fn peer_uid(stream: &std::os::unix::net::UnixStream) -> io::Result<u32> {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `fd` is an open socket owned by `stream`; `cred` and `len`
        // are valid for writes and `len` holds the size of `cred`.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        if len as usize != std::mem::size_of::<libc::ucred>() {
            return Err(io::Error::other("SO_PEERCRED returned a short answer"));
        }
        Ok(cred.uid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let mut uid: libc::uid_t = 0;
        let mut gid: libc::gid_t = 0;
        // SAFETY: `fd` is an open socket owned by `stream`; both out
        // pointers are valid for writes.
        let rc = unsafe { libc::getpeereid(fd, &mut uid, &mut gid) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(uid)
    }
}

/// This process's effective uid.
pub(crate) fn own_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn runtime_directory_wins() {
        assert_eq!(
            socket_path_from(os("/run/host-edge"), 1000, os("/run/user/1000")),
            Path::new("/run/host-edge/control.sock")
        );
        assert_eq!(
            socket_path_from(os("/run/a:/run/b"), 0, None),
            Path::new("/run/a/control.sock")
        );
    }

    #[test]
    fn root_uses_run() {
        assert_eq!(
            socket_path_from(None, 0, os("/run/user/0")),
            Path::new("/run/host-edge/control.sock")
        );
        assert_eq!(socket_path_from(os(""), 0, None), Path::new("/run/host-edge/control.sock"));
    }

    #[test]
    fn users_use_their_runtime_dir_then_tmp() {
        assert_eq!(
            socket_path_from(None, 1000, os("/run/user/1000")),
            Path::new("/run/user/1000/host-edge/control.sock")
        );
        assert_eq!(
            socket_path_from(None, 1000, os("")),
            Path::new("/tmp/host-edge-1000/control.sock")
        );
        assert_eq!(socket_path_from(None, 1000, None), Path::new("/tmp/host-edge-1000/control.sock"));
    }

    #[test]
    fn the_not_listening_message_says_what_to_check() {
        let e = ControlError::NotListening {
            path: PathBuf::from("/run/host-edge/control.sock"),
        };
        assert_eq!(
            e.to_string(),
            "no host-edge is listening on /run/host-edge/control.sock: is it running, and is this the control socket it was started with?"
        );
    }
}
