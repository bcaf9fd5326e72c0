//! The control protocol: newline-delimited JSON, one message a line.
//!
//! A client writes one [`Request`] per line and reads one [`Response`] line
//! for each, in order; a connection may carry any number of them. JSON never
//! holds a raw newline (serde_json escapes them in strings), so a line is a
//! message. For example:
//!
//! ```text
//! → {"request":"status"}
//! ← {"status":{"actors":[…],"providers":[…],"links":[…]}}
//! → {"request":"execute","command":{"command":"stop-actor","actor":"echo"}}
//! ← {"done":"stopped echo (MB…)"}
//! → {"request":"reboot"}
//! ← {"error":"bad request: unknown variant `reboot`, expected `status` or `execute` …"}
//! ```

use std::io::{self, BufRead};

use serde::{Deserialize, Serialize};

use host_edge_runtime::{Command, Status};

use super::ControlError;

/// The longest request line the server reads (1 MiB); a longer one is
/// refused and its connection closed.
pub const MAX_REQUEST_LINE: usize = 1024 * 1024;

/// The longest response line the client reads (64 MiB): a status of a busy
/// host is larger than any request, but still bounded.
pub const MAX_RESPONSE_LINE: usize = 64 * 1024 * 1024;

/// What a client asks of the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "kebab-case")]
pub enum Request {
    /// What the host runs: answered with [`Response::Status`].
    Status,
    /// Apply one command: answered with [`Response::Done`] or
    /// [`Response::Error`].
    Execute {
        /// The change to make.
        command: Command,
    },
}

/// The host's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    /// What the host runs.
    Status(Status),
    /// The command was applied; one line saying what was done.
    Done(String),
    /// The request was refused or failed; why.
    Error(String),
}

impl Request {
    /// The request as one protocol line, newline included.
    pub fn to_line(&self) -> Result<String, ControlError> {
        to_line(self)
    }

    /// Parses one line (without its newline).
    pub fn from_line(line: &[u8]) -> Result<Request, ControlError> {
        serde_json::from_slice(trim_line(line)).map_err(|e| ControlError::Protocol(format!("bad request: {e}")))
    }
}

impl Response {
    /// The response as one protocol line, newline included.
    pub fn to_line(&self) -> Result<String, ControlError> {
        to_line(self)
    }

    /// Parses one line (without its newline).
    pub fn from_line(line: &[u8]) -> Result<Response, ControlError> {
        serde_json::from_slice(trim_line(line))
            .map_err(|e| ControlError::Protocol(format!("bad response from the host: {e}")))
    }
}

fn to_line<T: Serialize>(value: &T) -> Result<String, ControlError> {
    let mut line = serde_json::to_string(value).map_err(|e| ControlError::Protocol(format!("cannot encode: {e}")))?;
    line.push('\n');
    Ok(line)
}

/// The line without a trailing `\r` (for clients that write CRLF).
fn trim_line(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LineRead {
    /// One line, without its newline. The last line of a stream may lack
    /// one.
    Line(Vec<u8>),
    /// The stream ended before any byte of a new line.
    End,
    /// The line is longer than allowed; what was read of it is discarded.
    TooLong,
}

/// Reads one `\n`-terminated line of at most `max` bytes (newline excluded),
/// never buffering more than that.
pub(crate) fn read_line<R: BufRead>(reader: &mut R, max: usize) -> io::Result<LineRead> {
    let mut line = Vec::new();
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if line.is_empty() { LineRead::End } else { LineRead::Line(line) });
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], true),
            None => (available, false),
        };
        if line.len() + chunk.len() > max {
            let used = available.len();
            reader.consume(used);
            return Ok(LineRead::TooLong);
        }
        line.extend_from_slice(chunk);
        let used = chunk.len() + usize::from(found);
        reader.consume(used);
        if found {
            return Ok(LineRead::Line(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Cursor;
    use std::path::PathBuf;

    use host_edge_runtime::capability::CapabilityId;
    use host_edge_runtime::{ActorStatus, LinkSpec, ProviderStatus};
    use host_edge_runtime::Limits;

    #[test]
    fn requests_have_the_documented_shape() {
        assert_eq!(Request::Status.to_line().unwrap(), "{\"request\":\"status\"}\n");
        let stop = Request::Execute {
            command: Command::StopActor { actor: "echo".into() },
        };
        assert_eq!(
            stop.to_line().unwrap(),
            "{\"request\":\"execute\",\"command\":{\"command\":\"stop-actor\",\"actor\":\"echo\"}}\n"
        );
        assert_eq!(Request::from_line(br#"{"request":"status"}"#).unwrap(), Request::Status);
        assert_eq!(
            Request::from_line(br#"{"request":"execute","command":{"command":"stop-actor","actor":"echo"}}"#).unwrap(),
            stop
        );
    }

    #[test]
    fn every_command_round_trips() {
        let commands = [
            Command::StartActor {
                path: PathBuf::from("/opt/a.wasm"),
                instances: 2,
                limits: Limits::default(),
            },
            Command::ReplaceActor {
                path: PathBuf::from("/opt/a.wasm"),
                force: true,
                instances: None,
                limits: Some(Limits {
                    fuel_per_call: 5,
                    max_memory_bytes: 65536,
                }),
            },
            Command::AddProvider {
                name: "kv".into(),
                path: PathBuf::from("/opt/kv.so"),
                settings: BTreeMap::from([("A".into(), "b".into())]),
            },
            Command::RemoveProvider { name: "kv".into() },
            Command::Link(LinkSpec {
                actor: "echo".into(),
                capability: CapabilityId::parse("wascc:keyvalue").unwrap(),
                binding: "default".into(),
                provider: "kv".into(),
                values: BTreeMap::from([("PATH".into(), "x.db".into())]),
                grant: vec!["prefix:sensors:".into()],
            }),
            Command::Unlink {
                actor: "echo".into(),
                capability: CapabilityId::parse("wascc:keyvalue").unwrap(),
                binding: "default".into(),
            },
        ];
        for command in commands {
            let request = Request::Execute { command };
            let line = request.to_line().unwrap();
            assert_eq!(line.matches('\n').count(), 1, "{line}");
            assert_eq!(Request::from_line(line.trim_end().as_bytes()).unwrap(), request);
        }
    }

    #[test]
    fn responses_round_trip() {
        let status = Status {
            actors: vec![ActorStatus {
                key: "MKEY".into(),
                name: "echo".into(),
                rev: Some(3),
                ver: Some("0.1.0".into()),
                hash: "AB".into(),
                path: Some(PathBuf::from("/opt/echo.wasm")),
                instances: 2,
                live_instances: 1,
                memory_bytes: 1_114_112,
                limits: Limits::default(),
                generation: 1,
            }],
            providers: vec![ProviderStatus {
                name: "kv".into(),
                capability: CapabilityId::parse("wascc:keyvalue").unwrap(),
                description: "SQLite".into(),
                path: PathBuf::from("/opt/kv.so"),
                settings: BTreeMap::new(),
                rev: Some(2),
                health: Err("disk full\nreally".into()),
            }],
            links: vec![],
            builtins: vec![CapabilityId::parse("wascc:logging").unwrap()],
        };
        for response in [
            Response::Status(status),
            Response::Done("stopped echo".into()),
            Response::Error("no such actor".into()),
        ] {
            let line = response.to_line().unwrap();
            assert_eq!(line.matches('\n').count(), 1, "{line}");
            assert_eq!(Response::from_line(line.trim_end().as_bytes()).unwrap(), response);
        }
        assert_eq!(Response::Done("ok".into()).to_line().unwrap(), "{\"done\":\"ok\"}\n");
        assert_eq!(Response::Error("no".into()).to_line().unwrap(), "{\"error\":\"no\"}\n");
    }

    #[test]
    fn bad_requests_are_named() {
        let e = Request::from_line(b"{\"request\":\"reboot\"}").unwrap_err().to_string();
        assert!(e.starts_with("bad request: unknown variant `reboot`"), "{e}");
        let e = Request::from_line(b"not json").unwrap_err().to_string();
        assert!(e.starts_with("bad request: expected"), "{e}");
        let e = Request::from_line(br#"{"request":"execute","command":{"command":"stop-actor"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `actor`"), "{e}");
        assert_eq!(Request::from_line(b"{\"request\":\"status\"}\r").unwrap(), Request::Status);
    }

    #[test]
    fn lines_are_split_and_bounded() {
        let mut input = Cursor::new(b"one\ntwo\r\n\nlast".to_vec());
        assert_eq!(read_line(&mut input, 16).unwrap(), LineRead::Line(b"one".to_vec()));
        assert_eq!(read_line(&mut input, 16).unwrap(), LineRead::Line(b"two\r".to_vec()));
        assert_eq!(read_line(&mut input, 16).unwrap(), LineRead::Line(b"".to_vec()));
        assert_eq!(read_line(&mut input, 16).unwrap(), LineRead::Line(b"last".to_vec()));
        assert_eq!(read_line(&mut input, 16).unwrap(), LineRead::End);

        let mut exact = Cursor::new(b"12345678\n".to_vec());
        assert_eq!(read_line(&mut exact, 8).unwrap(), LineRead::Line(b"12345678".to_vec()));
        // A small buffer makes the line arrive in several chunks.
        let mut long = io::BufReader::with_capacity(4, Cursor::new(b"123456789\n".to_vec()));
        assert_eq!(read_line(&mut long, 8).unwrap(), LineRead::TooLong);
    }
}
