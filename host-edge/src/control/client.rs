//! The control client: one request to a running host, and its response.

use std::io::{self, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::protocol::{read_line, LineRead, Request, Response, MAX_REQUEST_LINE, MAX_RESPONSE_LINE};
use super::{own_uid, peer_uid, ControlError};

/// Sends `request` to the host listening on `path` and returns its response.
///
/// `timeout` bounds each wait for the host (writing the request, reading the
/// answer); [`Duration::ZERO`] waits as long as it takes. Fails when nothing
/// listens on `path`, when the socket is not ours to use, when the process
/// listening runs as another user (neither this one nor root), or when the
/// host does not answer in time. A refusal by the host is not a failure
/// here: it is a [`Response::Error`].
pub fn request(path: &Path, request: &Request, timeout: Duration) -> Result<Response, ControlError> {
    let line = request.to_line()?;
    if line.len() - 1 > MAX_REQUEST_LINE {
        return Err(ControlError::Protocol(format!(
            "the request is {} bytes; the host accepts at most {MAX_REQUEST_LINE} (1 MiB)",
            line.len() - 1
        )));
    }
    let stream = UnixStream::connect(path).map_err(|e| connect_error(path, e))?;
    let me = own_uid();
    let server = peer_uid(&stream).map_err(|e| ControlError::io(format!("checking who listens on {}", path.display()), e))?;
    if server != me && server != 0 && me != 0 {
        return Err(ControlError::UntrustedPeer {
            path: path.to_owned(),
            uid: server,
        });
    }
    let limit = (!timeout.is_zero()).then_some(timeout);
    let setup = |e| ControlError::io(format!("setting up the connection to {}", path.display()), e);
    stream.set_read_timeout(limit).map_err(setup)?;
    stream.set_write_timeout(limit).map_err(setup)?;

    let mut writer = &stream;
    if let Err(e) = writer.write_all(line.as_bytes()) {
        match e.kind() {
            // The host may have refused the connection (and said why)
            // before reading the request: read its answer below.
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {}
            _ => return Err(transfer_error(path, timeout, e, "sending the request to")),
        }
    }
    let mut reader = BufReader::new(&stream);
    match read_line(&mut reader, MAX_RESPONSE_LINE) {
        Ok(LineRead::Line(line)) => Response::from_line(&line),
        Ok(LineRead::End) => Err(ControlError::Closed { path: path.to_owned() }),
        Ok(LineRead::TooLong) => Err(ControlError::Protocol(format!(
            "the host's answer is longer than {MAX_RESPONSE_LINE} bytes"
        ))),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Err(ControlError::Closed { path: path.to_owned() }),
        Err(e) => Err(transfer_error(path, timeout, e, "reading the answer from")),
    }
}

fn connect_error(path: &Path, e: io::Error) -> ControlError {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ControlError::NotListening { path: path.to_owned() },
        io::ErrorKind::PermissionDenied => ControlError::PermissionDenied { path: path.to_owned() },
        io::ErrorKind::InvalidInput if path.as_os_str().len() > super::MAX_SOCKET_PATH => {
            ControlError::PathTooLong { path: path.to_owned() }
        }
        _ => ControlError::io(format!("connecting to {}", path.display()), e),
    }
}

fn transfer_error(path: &Path, timeout: Duration, e: io::Error, doing: &str) -> ControlError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ControlError::Timeout {
            path: path.to_owned(),
            timeout,
        },
        _ => ControlError::io(format!("{doing} {}", path.display()), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixListener;
    use std::sync::Arc;

    use host_edge_runtime::Command;
    use crate::control::ControlServer;

    #[test]
    fn a_missing_socket_says_no_host_is_listening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let err = request(&path, &Request::Status, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, ControlError::NotListening { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "no host-edge is listening on {}: is it running, and is this the control socket it was started with?",
                path.display()
            )
        );
        // A stale socket file: same answer.
        drop(UnixListener::bind(&path).unwrap());
        let err = request(&path, &Request::Status, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, ControlError::NotListening { .. }), "{err}");
    }

    #[test]
    fn permission_denied_names_the_path_and_the_rule() {
        let err = connect_error(
            Path::new("/run/host-edge/control.sock"),
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert_eq!(
            err.to_string(),
            "permission denied on /run/host-edge/control.sock: the control socket is owner-only; \
             run this as the user the host runs as, or as root"
        );
    }

    #[test]
    fn an_unreadable_socket_is_permission_denied_for_other_users() {
        if own_uid() == 0 {
            // Root passes every permission check; the mapping is covered by
            // permission_denied_names_the_path_and_the_rule.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        let err = request(&path, &Request::Status, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, ControlError::PermissionDenied { .. }), "{err}");
    }

    #[test]
    fn requests_get_the_handlers_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let server = ControlServer::start(
            &path,
            Arc::new(|request| match request {
                Request::Status => Response::Status(Default::default()),
                Request::Execute { command } => match command {
                    Command::StopActor { actor } => Response::Done(format!("stopped {actor}")),
                    _ => Response::Error("no such thing".into()),
                },
            }),
        )
        .unwrap();
        let stop = Request::Execute {
            command: Command::StopActor { actor: "echo".into() },
        };
        assert_eq!(
            request(&path, &stop, Duration::from_secs(5)).unwrap(),
            Response::Done("stopped echo".into())
        );
        let remove = Request::Execute {
            command: Command::RemoveProvider { name: "kv".into() },
        };
        assert_eq!(
            request(&path, &remove, Duration::ZERO).unwrap(),
            Response::Error("no such thing".into())
        );
        server.stop();
        let err = request(&path, &Request::Status, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, ControlError::NotListening { .. }), "{err}");
    }

    #[test]
    fn a_silent_host_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let silent = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            // Read the request, never answer, keep the connection open
            // until the client gives up.
            let mut reader = std::io::BufReader::new(&stream);
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut rest = String::new();
            let _ = reader.read_line(&mut rest);
            line
        });
        let err = request(&path, &Request::Status, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, ControlError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("within 200ms"), "{err}");
        assert_eq!(silent.join().unwrap(), "{\"request\":\"status\"}\n");
    }

    #[test]
    fn a_host_that_hangs_up_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let rude = std::thread::spawn(move || drop(listener.accept().unwrap()));
        let err = request(&path, &Request::Status, Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, ControlError::Closed { .. }), "{err}");
        rude.join().unwrap();
    }

    #[test]
    fn garbage_from_the_host_is_a_protocol_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let odd = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(b"hello\n").unwrap();
        });
        let err = request(&path, &Request::Status, Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().starts_with("bad response from the host:"), "{err}");
        odd.join().unwrap();
    }
}
