//! Container and object names, and the only paths they may lead to.
//!
//! Every name an actor gives is one plain file-name segment: letters,
//! digits, `.`, `_`, `-`, `@`, `+`, `=`, `,` and spaces, at most 255 bytes,
//! not starting with `.` (so never `.` or `..`, and never one of the
//! provider's own temporary files). So no name can hold `/` or `\`, be
//! absolute, or climb out: an actor's objects are always
//! `ROOT/ACTOR/CONTAINER/ID`. A container or object that is a symbolic link
//! (planted by someone with access to the disk) is refused, never followed.

use std::path::{Path, PathBuf};

use provider_sdk::ProviderError;

/// The longest name, in bytes (the usual file-name limit).
pub const MAX_NAME: usize = 255;

/// What a name names, for messages.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A container.
    Container,
    /// An object.
    Object,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Object => "object id",
        }
    }
}

/// Checks `name` as one path segment.
pub fn check(kind: Kind, name: &str) -> Result<(), ProviderError> {
    let refuse = |why: &str| {
        ProviderError::bad_request(format!(
            "{} `{}` is refused: {why} (names are single segments of letters, digits, `. _ - @ + = ,` and spaces, \
             not starting with `.`)",
            kind.word(),
            name.escape_debug()
        ))
    };
    if name.is_empty() {
        return Err(refuse("it is empty"));
    }
    if name.len() > MAX_NAME {
        return Err(refuse(&format!("it is longer than {MAX_NAME} bytes")));
    }
    if name == ".." || name.contains("../") || name.contains("/..") {
        return Err(refuse("it would leave the actor's root"));
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Err(refuse("it is an absolute path"));
    }
    if name.contains('/') || name.contains('\\') {
        return Err(refuse("it holds a path separator"));
    }
    if name.starts_with('.') {
        return Err(refuse("it starts with `.`"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || " ._-@+=,".contains(*c))) {
        return Err(refuse(&format!("it holds `{}`", bad.escape_debug())));
    }
    Ok(())
}

/// The folder of `container` in `root`, refused when it is a symbolic link.
pub fn container_dir(root: &Path, container: &str) -> Result<PathBuf, ProviderError> {
    check(Kind::Container, container)?;
    let dir = root.join(container);
    refuse_link(&dir, &format!("container `{container}`"))?;
    Ok(dir)
}

/// The file of object `id` in `container` in `root`, refused when it or its
/// container is a symbolic link.
pub fn object_path(root: &Path, container: &str, id: &str) -> Result<PathBuf, ProviderError> {
    let dir = container_dir(root, container)?;
    check(Kind::Object, id)?;
    let path = dir.join(id);
    refuse_link(&path, &format!("object `{id}` in container `{container}`"))?;
    Ok(path)
}

fn refuse_link(path: &Path, what: &str) -> Result<(), ProviderError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(ProviderError::denied(format!(
            "{what} is a symbolic link on disk and is refused: links could lead out of the actor's root"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass() {
        for name in ["photos", "2026-11-22 reading.csv", "a_b.c-d", "Ünïcode", "v=1,x+y@z"] {
            check(Kind::Object, name).unwrap();
        }
    }

    #[test]
    fn names_that_could_escape_are_refused_by_name() {
        for (name, why) in [
            ("..", "would leave the actor's root"),
            ("../other/secret", "would leave the actor's root"),
            ("/etc/passwd", "absolute path"),
            ("a/b", "path separator"),
            ("a\\b", "path separator"),
            (".hidden", "starts with `.`"),
            ("", "empty"),
            ("nul\0byte", "holds `\\0`"),
        ] {
            let err = check(Kind::Object, name).unwrap_err();
            assert!(err.message().contains(why), "{name:?}: {err}");
        }
    }

    #[test]
    fn a_symbolic_link_is_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).unwrap();
        let err = container_dir(dir.path(), "linked").unwrap_err();
        assert_eq!(err.kind(), provider_sdk::ErrorKind::Denied);
        assert!(err.message().contains("container `linked` is a symbolic link"), "{err}");
    }
}
