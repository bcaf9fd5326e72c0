//! The control server: accepts connections on the socket and answers each
//! request line with the handler's response.
//!
//! The socket never exists under its name with a mode other than 0600: it is
//! bound inside a fresh private (0700) folder next to its final place,
//! chmod-ed, and then hard-linked to its name (which also fails, rather than
//! replaces, if another host took the name meanwhile). The process umask is
//! left alone, since other threads may be creating files. Every connection is
//! then checked with `SO_PEERCRED`: only the host's own user and root get an
//! answer.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::protocol::{read_line, LineRead, Request, Response, MAX_REQUEST_LINE};
use super::{own_uid, peer_uid, ControlError, MAX_SOCKET_PATH};

/// What answers requests: the host's `status` and `execute` behind one
/// function. It is called from one thread per connection, so concurrently.
pub type Handler = Arc<dyn Fn(Request) -> Response + Send + Sync>;

/// The most connections served at once; more are refused with an error.
pub const MAX_CONNECTIONS: usize = 32;

/// How long writing one response may block on a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running control server. [`stop`](ControlServer::stop) (or dropping it)
/// stops accepting, closes open connections once their request in flight is
/// answered, and removes the socket file.
pub struct ControlServer {
    path: PathBuf,
    /// Device and inode of the socket file, so that stopping removes our
    /// socket only, not one a later host put in its place.
    identity: (u64, u64),
    shared: Arc<Shared>,
    /// Writing to (or dropping) this wakes the accept loop.
    waker: Option<UnixStream>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer").field("path", &self.path).finish_non_exhaustive()
    }
}

/// State shared by the accept loop, the connection threads and `stop`.
struct Shared {
    stopping: AtomicBool,
    connections: Mutex<Connections>,
}

#[derive(Default)]
struct Connections {
    next_id: u64,
    /// A clone of each open stream, to shut it down on stop.
    open: HashMap<u64, UnixStream>,
    threads: Vec<JoinHandle<()>>,
}

impl Shared {
    fn connections(&self) -> MutexGuard<'_, Connections> {
        // A panic while holding the lock leaves the bookkeeping usable.
        self.connections.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ControlServer {
    /// Binds the control socket at `path` (owner-only) and serves it on
    /// background threads, passing every request to `handler`.
    ///
    /// Creates the parent folder (mode 0700) when it is missing, and refuses
    /// a folder another user could change. Refuses to start when a live host
    /// answers on `path`; removes a stale socket file left by one that died.
    pub fn start(path: &Path, handler: Handler) -> Result<ControlServer, ControlError> {
        if path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(ControlError::PathTooLong { path: path.to_owned() });
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        if path.file_name().is_none() {
            return Err(ControlError::NotASocket { path: path.to_owned() });
        }
        if !parent.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&parent)
                .map_err(|e| ControlError::io(format!("creating {}", parent.display()), e))?;
        }
        check_folder(&parent)?;
        clear_stale(path)?;
        let listener = bind_private(path, &parent)?;
        let meta = fs::symlink_metadata(path).map_err(|e| ControlError::io(format!("reading {}", path.display()), e))?;
        let identity = (meta.dev(), meta.ino());
        listener
            .set_nonblocking(true)
            .map_err(|e| ControlError::io(format!("setting up {}", path.display()), e))?;
        let (waker, wake) = UnixStream::pair().map_err(|e| ControlError::io("creating the control server's waker", e))?;
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            connections: Mutex::new(Connections::default()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("control-accept".into())
                .spawn(move || accept_loop(&listener, &wake, &shared, &handler))
                .map_err(|e| ControlError::io("starting the control server thread", e))?
        };
        tracing::info!(socket = %path.display(), "control socket listening");
        Ok(ControlServer {
            path: path.to_owned(),
            identity,
            shared,
            waker: Some(waker),
            acceptor: Some(acceptor),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, closes every connection once its request in flight
    /// is answered, waits for the server's threads and removes the socket
    /// file. Dropping the server does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(mut waker) = self.waker.take() {
            // The accept loop polls the other end; a byte or the hang-up
            // wakes it.
            let _ = waker.write_all(b"x");
        }
        if acceptor.join().is_err() {
            tracing::error!("the control socket's accept thread panicked");
        }
        let threads = {
            let mut connections = self.shared.connections();
            for stream in connections.open.values() {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
            std::mem::take(&mut connections.threads)
        };
        for thread in threads {
            let _ = thread.join();
        }
        match fs::symlink_metadata(&self.path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.identity => {
                if let Err(e) = fs::remove_file(&self.path) {
                    tracing::warn!(socket = %self.path.display(), "could not remove the control socket: {e}");
                }
            }
            Ok(_) => tracing::debug!(socket = %self.path.display(), "control socket was replaced; left in place"),
            Err(_) => {}
        }
        tracing::info!(socket = %self.path.display(), "control socket closed");
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Refuses a folder another user could write to (and so replace our socket
/// with theirs), unless it is sticky like `/tmp`.
fn check_folder(folder: &Path) -> Result<(), ControlError> {
    let meta = fs::metadata(folder).map_err(|e| ControlError::io(format!("reading {}", folder.display()), e))?;
    let unsafe_folder = |reason: String| ControlError::UnsafeFolder {
        path: folder.to_owned(),
        reason,
    };
    if !meta.is_dir() {
        return Err(unsafe_folder("not a folder".into()));
    }
    let me = own_uid();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(unsafe_folder(format!(
            "it belongs to uid {}, neither this user (uid {me}) nor root",
            meta.uid()
        )));
    }
    let mode = meta.mode();
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(unsafe_folder(format!(
            "other users may write to it (mode {:o}) and it is not sticky",
            mode & 0o7777
        )));
    }
    Ok(())
}

/// Makes room at `path`: refuses when a live host answers there, removes a
/// socket nobody listens on, refuses anything else.
fn clear_stale(path: &Path) -> Result<(), ControlError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ControlError::io(format!("reading {}", path.display()), e)),
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotASocket { path: path.to_owned() });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(ControlError::AlreadyRunning { path: path.to_owned() }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(socket = %path.display(), "removing a stale control socket");
            fs::remove_file(path).map_err(|e| ControlError::io(format!("removing the stale socket {}", path.display()), e))
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            Err(ControlError::PermissionDenied { path: path.to_owned() })
        }
        Err(e) => Err(ControlError::io(format!("checking {}", path.display()), e)),
    }
}

/// Binds a socket in a fresh 0700 folder in `parent`, makes it 0600, and
/// hard-links it to `path`; the private folder is removed again.
fn bind_private(path: &Path, parent: &Path) -> Result<UnixListener, ControlError> {
    let private = make_private_dir(parent)?;
    let result = (|| {
        let temp = private.join("s");
        let listener = UnixListener::bind(&temp).map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidInput {
                ControlError::PathTooLong { path: temp.clone() }
            } else {
                ControlError::io(format!("binding {}", temp.display()), e)
            }
        })?;
        fs::set_permissions(&temp, fs::Permissions::from_mode(0o600))
            .map_err(|e| ControlError::io(format!("setting the mode of {}", temp.display()), e))?;
        fs::hard_link(&temp, path).map_err(|e| match e.kind() {
            // Another host bound it after we looked.
            io::ErrorKind::AlreadyExists => ControlError::AlreadyRunning { path: path.to_owned() },
            _ => ControlError::io(format!("creating {}", path.display()), e),
        })?;
        Ok(listener)
    })();
    if let Err(e) = fs::remove_dir_all(&private) {
        tracing::warn!(folder = %private.display(), "could not remove a temporary folder: {e}");
    }
    result
}

fn make_private_dir(parent: &Path) -> Result<PathBuf, ControlError> {
    let pid = std::process::id();
    for attempt in 0..100u32 {
        let dir = parent.join(format!(".ctl{pid}.{attempt}"));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(ControlError::PermissionDenied { path: parent.to_owned() })
            }
            Err(e) => return Err(ControlError::io(format!("creating a folder in {}", parent.display()), e)),
        }
    }
    Err(ControlError::io(
        format!("creating a folder in {}", parent.display()),
        io::Error::new(io::ErrorKind::AlreadyExists, "too many leftover .ctl folders"),
    ))
}

/// Waits for connections until stopped; each gets a thread of its own.
fn accept_loop(listener: &UnixListener, wake: &UnixStream, shared: &Arc<Shared>, handler: &Handler) {
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        match wait_readable(listener, wake) {
            Ok(()) => {}
            Err(e) => {
                tracing::error!("control socket: waiting for connections failed: {e}; no longer accepting");
                return;
            }
        }
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) => {
                // EMFILE and friends: back off rather than spin.
                tracing::warn!("control socket: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        admit(stream, shared, handler);
    }
}

/// Blocks until the listener has a connection waiting or the waker fired.
fn wait_readable(listener: &UnixListener, wake: &UnixStream) -> io::Result<()> {
    let mut fds = [
        libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a valid array of two pollfd for the duration of
        // the call, and both descriptors are open (owned by the caller).
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if rc >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Registers a connection and starts its thread, or refuses it when too many
/// are open.
fn admit(stream: UnixStream, shared: &Arc<Shared>, handler: &Handler) {
    // The listener is non-blocking; the connection must not be.
    if let Err(e) = stream.set_nonblocking(false) {
        tracing::warn!("control socket: dropping a connection: {e}");
        return;
    }
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut connections = shared.connections();
    connections.threads.retain(|t| !t.is_finished());
    if connections.open.len() >= MAX_CONNECTIONS {
        drop(connections);
        tracing::warn!("control socket: refusing a connection, {MAX_CONNECTIONS} are open");
        refuse(stream, &format!("too many control connections ({MAX_CONNECTIONS} are open); try again"));
        return;
    }
    let clone = match stream.try_clone() {
        Ok(clone) => clone,
        Err(e) => {
            tracing::warn!("control socket: dropping a connection: {e}");
            return;
        }
    };
    let id = connections.next_id;
    connections.next_id += 1;
    connections.open.insert(id, clone);
    let thread = {
        let shared = Arc::clone(shared);
        let handler = Arc::clone(handler);
        std::thread::Builder::new()
            .name(format!("control-{id}"))
            .spawn(move || {
                serve(stream, &shared, &handler);
                shared.connections().open.remove(&id);
            })
    };
    match thread {
        Ok(thread) => connections.threads.push(thread),
        Err(e) => {
            connections.open.remove(&id);
            tracing::warn!("control socket: cannot start a connection thread: {e}");
        }
    }
}

/// Writes one error response and closes the connection.
fn refuse(mut stream: UnixStream, message: &str) {
    if let Ok(line) = Response::Error(message.to_owned()).to_line() {
        let _ = stream.write_all(line.as_bytes());
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Whether a peer with `peer` uid may use a host running as `me`.
fn allowed(peer: u32, me: u32) -> bool {
    peer == me || peer == 0
}

/// Answers the requests on one connection until it closes.
fn serve(stream: UnixStream, shared: &Shared, handler: &Handler) {
    let me = own_uid();
    match peer_uid(&stream) {
        Ok(uid) if allowed(uid, me) => tracing::debug!(uid, "control connection"),
        Ok(uid) => {
            tracing::warn!(uid, "control socket: refused a connection from another user");
            let owners = if me == 0 { "root".to_owned() } else { format!("uid {me} or root") };
            refuse(
                stream,
                &format!("permission denied: this host's control socket is owner-only ({owners}), and you are uid {uid}"),
            );
            return;
        }
        Err(e) => {
            tracing::warn!("control socket: refused a connection whose user is unknown: {e}");
            refuse(stream, &format!("permission denied: cannot tell who you are: {e}"));
            return;
        }
    }
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(e) => {
            tracing::warn!("control socket: dropping a connection: {e}");
            return;
        }
    };
    let mut reader = BufReader::new(stream);
    loop {
        let line = match read_line(&mut reader, MAX_REQUEST_LINE) {
            Ok(LineRead::Line(line)) => line,
            Ok(LineRead::End) => return,
            Ok(LineRead::TooLong) => {
                tracing::warn!("control socket: refused a request line over {MAX_REQUEST_LINE} bytes");
                let message = format!("request refused: a request line may be at most {MAX_REQUEST_LINE} bytes (1 MiB)");
                refuse(writer, &message);
                return;
            }
            Err(e) => {
                tracing::debug!("control connection ended: {e}");
                return;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let response = match Request::from_line(&line) {
            Ok(request) => answer(request, handler),
            Err(e) => {
                tracing::debug!("control socket: {e}");
                Response::Error(e.to_string())
            }
        };
        let line = match response.to_line() {
            Ok(line) => line,
            Err(e) => {
                tracing::error!("control socket: {e}");
                Response::Error(format!("the host could not encode its answer: {e}"))
                    .to_line()
                    .unwrap_or_else(|_| "{\"error\":\"the host could not encode its answer\"}\n".into())
            }
        };
        if let Err(e) = writer.write_all(line.as_bytes()) {
            tracing::debug!("control connection ended: {e}");
            return;
        }
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// Calls the handler; a panic becomes an error response, not a lost
/// connection.
fn answer(request: Request, handler: &Handler) -> Response {
    match &request {
        Request::Status => tracing::debug!("control: status"),
        Request::Execute { command } => tracing::debug!(command = %command.loggable(), "control: execute"),
    }
    match catch_unwind(AssertUnwindSafe(|| handler(request))) {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!("control request handler panicked: {what}");
            Response::Error(format!("the host failed while handling the request: {what}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use host_edge_runtime::{Command, Status};
    use std::io::{BufRead, Read};

    fn handler() -> Handler {
        Arc::new(|request| match request {
            Request::Status => Response::Status(Status::default()),
            Request::Execute {
                command: Command::StopActor { actor },
            } => {
                if actor == "boom" {
                    panic!("boom");
                }
                Response::Done(format!("stopped {actor}"))
            }
            Request::Execute { .. } => Response::Error("not supported here".into()),
        })
    }

    fn roundtrip(stream: &mut UnixStream, reader: &mut BufReader<UnixStream>, line: &str) -> String {
        stream.write_all(line.as_bytes()).unwrap();
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        answer
    }

    #[test]
    fn serves_several_requests_per_connection_and_survives_bad_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let server = ControlServer::start(&path, handler()).unwrap();
        let mut stream = UnixStream::connect(&path).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        assert_eq!(
            roundtrip(&mut stream, &mut reader, "{\"request\":\"status\"}\n"),
            "{\"status\":{\"actors\":[],\"providers\":[],\"links\":[],\"builtins\":[]}}\n"
        );
        let bad = roundtrip(&mut stream, &mut reader, "{\"request\":\"status\"\n");
        assert!(bad.starts_with("{\"error\":\"bad request: EOF while parsing"), "{bad}");
        let bad = roundtrip(&mut stream, &mut reader, "{\"request\":\"reboot\"}\n");
        assert!(bad.contains("unknown variant `reboot`"), "{bad}");
        assert_eq!(
            roundtrip(
                &mut stream,
                &mut reader,
                "{\"request\":\"execute\",\"command\":{\"command\":\"stop-actor\",\"actor\":\"echo\"}}\n"
            ),
            "{\"done\":\"stopped echo\"}\n"
        );
        let panicked = roundtrip(
            &mut stream,
            &mut reader,
            "{\"request\":\"execute\",\"command\":{\"command\":\"stop-actor\",\"actor\":\"boom\"}}\n",
        );
        assert_eq!(panicked, "{\"error\":\"the host failed while handling the request: boom\"}\n");
        // Still usable after all that.
        assert!(roundtrip(&mut stream, &mut reader, "\n{\"request\":\"status\"}\r\n").starts_with("{\"status\""));
        server.stop();
    }

    #[test]
    fn the_socket_is_owner_only_and_removed_on_stop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let server = ControlServer::start(&path, handler()).unwrap();
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.mode() & 0o777, 0o600);
        // The private folder used for binding is gone.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("control.sock")]);
        server.stop();
        assert!(!path.exists());
        assert!(UnixStream::connect(&path).is_err());
    }

    #[test]
    fn drop_stops_even_with_a_connection_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let server = ControlServer::start(&path, handler()).unwrap();
        let mut idle = UnixStream::connect(&path).unwrap();
        // One answer proves the server accepted and holds the connection,
        // which then stays open, idle, while the server is dropped.
        let mut reader = BufReader::new(idle.try_clone().unwrap());
        assert!(roundtrip(&mut idle, &mut reader, "{\"request\":\"status\"}\n").starts_with("{\"status\""));
        drop(server);
        assert!(!path.exists());
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }

    #[test]
    fn missing_folders_are_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/host-edge/control.sock");
        let server = ControlServer::start(&path, handler()).unwrap();
        let mode = fs::metadata(dir.path().join("run/host-edge")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o700);
        server.stop();
    }

    #[test]
    fn a_live_host_is_not_displaced_but_a_stale_socket_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let first = ControlServer::start(&path, handler()).unwrap();
        let err = ControlServer::start(&path, handler()).unwrap_err();
        assert!(matches!(err, ControlError::AlreadyRunning { .. }), "{err}");
        assert!(err.to_string().contains("already listening"), "{err}");
        // The first one still answers.
        let answer = crate::control::request(&path, &Request::Status, Duration::from_secs(5)).unwrap();
        assert_eq!(answer, Response::Status(Status::default()));
        first.stop();

        // A host that died leaves its socket file behind.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let second = ControlServer::start(&path, handler()).unwrap();
        let answer = crate::control::request(&path, &Request::Status, Duration::from_secs(5)).unwrap();
        assert_eq!(answer, Response::Status(Status::default()));
        second.stop();
    }

    #[test]
    fn other_files_are_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        fs::write(&path, b"precious").unwrap();
        let err = ControlServer::start(&path, handler()).unwrap_err();
        assert!(matches!(err, ControlError::NotASocket { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"precious");
    }

    #[test]
    fn a_folder_others_may_write_to_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let err = ControlServer::start(&open.join("control.sock"), handler()).unwrap_err();
        assert!(matches!(err, ControlError::UnsafeFolder { .. }), "{err}");
        // Sticky, like /tmp, is fine.
        fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
        ControlServer::start(&open.join("control.sock"), handler()).unwrap().stop();
    }

    #[test]
    fn a_too_long_path_is_refused() {
        let path = PathBuf::from(format!("/tmp/{}/control.sock", "x".repeat(120)));
        let err = ControlServer::start(&path, handler()).unwrap_err();
        assert!(matches!(err, ControlError::PathTooLong { .. }), "{err}");
    }

    #[test]
    fn an_oversized_line_is_refused_and_the_connection_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let server = ControlServer::start(&path, handler()).unwrap();
        let mut stream = UnixStream::connect(&path).unwrap();
        let reader = stream.try_clone().unwrap();
        let writer = std::thread::spawn(move || {
            let big = vec![b' '; MAX_REQUEST_LINE + 10];
            // The server may close before it has all of it.
            let _ = stream.write_all(&big);
            let _ = stream.write_all(b"\n");
        });
        let mut reader = BufReader::new(reader);
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        assert_eq!(
            answer,
            format!("{{\"error\":\"request refused: a request line may be at most {MAX_REQUEST_LINE} bytes (1 MiB)\"}}\n")
        );
        let mut rest = String::new();
        assert_eq!(reader.read_line(&mut rest).unwrap(), 0, "connection should be closed");
        writer.join().unwrap();
        server.stop();
    }

    #[test]
    fn only_the_owner_and_root_are_allowed() {
        assert!(allowed(1000, 1000));
        assert!(allowed(0, 1000));
        assert!(allowed(0, 0));
        assert!(!allowed(1001, 1000));
        assert!(!allowed(1000, 0));
    }

    #[test]
    fn the_peer_uid_is_this_process_for_a_local_pair() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(peer_uid(&a).unwrap(), own_uid());
    }

    #[test]
    fn connections_are_served_concurrently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        let gate = Arc::new(std::sync::Barrier::new(2));
        let handler: Handler = {
            let gate = Arc::clone(&gate);
            Arc::new(move |request| match request {
                // Blocks until a second connection's request arrives.
                Request::Execute { .. } => {
                    gate.wait();
                    Response::Done("after the barrier".into())
                }
                Request::Status => {
                    gate.wait();
                    Response::Status(Status::default())
                }
            })
        };
        let server = ControlServer::start(&path, handler).unwrap();
        let slow = {
            let path = path.clone();
            std::thread::spawn(move || {
                let stop = Request::Execute {
                    command: Command::StopActor { actor: "a".into() },
                };
                crate::control::request(&path, &stop, Duration::from_secs(10)).unwrap()
            })
        };
        let status = crate::control::request(&path, &Request::Status, Duration::from_secs(10)).unwrap();
        assert_eq!(status, Response::Status(Status::default()));
        assert_eq!(slow.join().unwrap(), Response::Done("after the barrier".into()));
        server.stop();
    }
}
