//! Provider archives (PAR): the container a native provider ships in.
//!
//! A native provider cannot carry its claims inside itself as an actor does,
//! so it travels as wasmCloud's provider archive: a tar file, gzipped or
//! not, holding one `claims.jwt` (see [`provider`](crate::provider)) and one
//! library per target, named `<target>.bin` (`aarch64-linux.bin`). This
//! module reads and writes that container and nothing more: what the claims
//! say is checked elsewhere.
//!
//! An archive is outside input (a file a manifest names, chunks from the
//! broker), so reading is bounded: the whole unpacked archive, the number
//! of entries and the token's size have limits; anything but regular files
//! with those names is refused; every library is hashed as it is read, and
//! only the one the caller asks for is kept in memory.

use std::io::Read;

use sha2::{Digest, Sha256};

/// The archive entry that holds the signed claims.
pub const CLAIMS_FILE: &str = "claims.jwt";

/// The suffix of every library entry: `<target>.bin`.
pub const LIBRARY_SUFFIX: &str = ".bin";

/// The most bytes an archive may unpack to, libraries and claims together.
pub const MAX_UNPACKED: u64 = 256 << 20;

/// The most entries an archive may hold.
pub const MAX_ENTRIES: usize = 32;

/// The longest claims token an archive may hold.
pub const MAX_CLAIMS: u64 = 64 << 10;

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why an archive could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading failed.
    #[error("cannot read the archive: {0}")]
    Io(#[source] std::io::Error),
    /// The bytes are not a tar archive (nor a gzipped one).
    #[error("not a provider archive: {0}")]
    NotAnArchive(String),
    /// It unpacks to more than [`MAX_UNPACKED`] bytes.
    #[error("the archive unpacks to more than {MAX_UNPACKED} bytes")]
    TooLarge,
    /// It holds more than [`MAX_ENTRIES`] entries.
    #[error("the archive holds more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    /// An entry that is not a regular file named `claims.jwt` or
    /// `<target>.bin`, or one that is there twice.
    #[error("the archive entry `{name}` {problem}")]
    Entry {
        /// The entry's name, as the archive spells it (lossy UTF-8).
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No `claims.jwt`: the archive is not signed.
    #[error("the archive has no {CLAIMS_FILE}: it is not signed")]
    NoClaims,
    /// A target name that cannot name a library entry.
    #[error("`{0}` is not a target name such as aarch64-linux (letters, digits and `_`, one `-` before the system)")]
    TargetName(String),
}

/// One library in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// Its target (`aarch64-linux`): the entry's name without `.bin`.
    pub target: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes, uppercase hex (as wasmCloud signs it).
    pub hash: String,
    /// Its bytes, when the reader was asked to keep this target.
    pub bytes: Option<Vec<u8>>,
}

/// What an archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// The signed claims token, as written.
    pub claims: String,
    /// Every library, in target order.
    pub libraries: Vec<Library>,
    /// Whether the archive was gzipped.
    pub gzipped: bool,
}

impl Contents {
    /// The library for `target`, if the archive holds one.
    pub fn library(&self, target: &str) -> Option<&Library> {
        self.libraries.iter().find(|l| l.target == target)
    }
}

/// Whether `target` can name a library entry: `[arch]-[os]`, each part of
/// ASCII letters, digits and `_`.
pub fn is_target_name(target: &str) -> bool {
    let part = |p: &str| !p.is_empty() && p.len() <= 32 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    matches!(target.split_once('-'), Some((arch, os)) if part(arch) && part(os))
}

/// The uppercase hex SHA-256 of `bytes`.
pub fn hash_bytes(bytes: &[u8]) -> String {
    data_encoding::HEXUPPER.encode(&Sha256::digest(bytes))
}

/// Reads an archive (gzipped or not) from `reader`, keeping the bytes of the
/// library for `keep` only, if it is there; every library is hashed.
pub fn read(reader: impl Read, keep: Option<&str>) -> Result<Contents, ArchiveError> {
    read_within(reader, keep, MAX_UNPACKED)
}

/// [`read`], with `limit` unpacked bytes.
fn read_within(reader: impl Read, keep: Option<&str>, limit: u64) -> Result<Contents, ArchiveError> {
    let mut reader = std::io::BufReader::new(reader);
    let start = {
        use std::io::BufRead;
        reader.fill_buf().map_err(ArchiveError::Io)?.get(..2).map(|b| [b[0], b[1]])
    };
    let gzipped = start == Some(GZIP_MAGIC);
    // One byte past the limit tells an archive at the limit from one over it.
    if gzipped {
        read_tar(flate2::read::GzDecoder::new(reader).take(limit + 1), keep, true)
    } else {
        read_tar(reader.take(limit + 1), keep, false)
    }
}

fn read_tar<R: Read>(reader: std::io::Take<R>, keep: Option<&str>, gzipped: bool) -> Result<Contents, ArchiveError> {
    let mut archive = tar::Archive::new(reader);
    let read = read_entries(&mut archive, keep);
    // The reader stops one byte past the limit: reaching it means more,
    // whatever error the cut-off stream gave.
    if archive.into_inner().limit() == 0 {
        return Err(ArchiveError::TooLarge);
    }
    let (claims, mut libraries) = read?;
    let claims = claims.ok_or(ArchiveError::NoClaims)?;
    libraries.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(Contents { claims, libraries, gzipped })
}

/// The claims and the libraries of `archive`, entry by entry.
fn read_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    keep: Option<&str>,
) -> Result<(Option<String>, Vec<Library>), ArchiveError> {
    let mut claims = None;
    let mut libraries: Vec<Library> = Vec::new();
    let entries = archive.entries().map_err(|e| unreadable(&e))?;
    for (count, entry) in entries.enumerate() {
        if count >= MAX_ENTRIES {
            return Err(ArchiveError::TooManyEntries);
        }
        let mut entry = entry.map_err(|e| unreadable(&e))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let bad = |problem: &str| ArchiveError::Entry { name: name.clone(), problem: problem.to_owned() };
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad("is not a regular file (only claims.jwt and <target>.bin files belong in an archive)"));
        }
        if name == CLAIMS_FILE {
            if claims.is_some() {
                return Err(bad("is there twice"));
            }
            if entry.size() > MAX_CLAIMS {
                return Err(bad(&format!("is {} bytes, over the limit of {MAX_CLAIMS}", entry.size())));
            }
            let mut text = String::new();
            entry.by_ref().take(MAX_CLAIMS).read_to_string(&mut text).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => bad("is not UTF-8 text"),
                _ => unreadable(&e),
            })?;
            claims = Some(text);
            continue;
        }
        let target = match name.strip_suffix(LIBRARY_SUFFIX) {
            Some(target) if is_target_name(target) => target.to_owned(),
            _ => return Err(bad("is neither claims.jwt nor a library named <target>.bin (such as aarch64-linux.bin)")),
        };
        if libraries.iter().any(|l| l.target == target) {
            return Err(bad("is there twice"));
        }
        let size = entry.size();
        let library = if keep == Some(target.as_str()) {
            let mut bytes = Vec::with_capacity(usize::try_from(size.min(1 << 24)).unwrap_or(0));
            entry.read_to_end(&mut bytes).map_err(|e| unreadable(&e))?;
            Library { target, size, hash: hash_bytes(&bytes), bytes: Some(bytes) }
        } else {
            let mut hasher = HashingSink(Sha256::new());
            std::io::copy(&mut entry, &mut hasher).map_err(|e| unreadable(&e))?;
            Library { target, size, hash: data_encoding::HEXUPPER.encode(&hasher.0.finalize()), bytes: None }
        };
        libraries.push(library);
    }
    Ok((claims, libraries))
}

/// A tar or gzip error: past the limit reads as a truncated archive, so
/// that is said as what it is.
fn unreadable(error: &std::io::Error) -> ArchiveError {
    ArchiveError::NotAnArchive(format!("{error} (is it a tar file, or a truncated one?)"))
}

/// Hashes what is written to it.
struct HashingSink(Sha256);

impl std::io::Write for HashingSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes an archive of `claims` and `libraries` (target, bytes), gzipped
/// when `gzip` is set. The same inputs give the same bytes: entries in a
/// fixed order, owned by root, mode 0644, dated 0.
pub fn write(claims: &str, libraries: &[(String, Vec<u8>)], gzip: bool) -> Result<Vec<u8>, ArchiveError> {
    for (target, _) in libraries {
        if !is_target_name(target) {
            return Err(ArchiveError::TargetName(target.clone()));
        }
    }
    let mut sorted: Vec<&(String, Vec<u8>)> = libraries.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut builder = tar::Builder::new(Vec::new());
    let mut append = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, bytes).map_err(ArchiveError::Io)
    };
    append(CLAIMS_FILE, claims.as_bytes())?;
    for (target, bytes) in sorted {
        append(&format!("{target}{LIBRARY_SUFFIX}"), bytes)?;
    }
    let tar = builder.into_inner().map_err(ArchiveError::Io)?;
    if !gzip {
        return Ok(tar);
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, &tar).map_err(ArchiveError::Io)?;
    encoder.finish().map_err(ArchiveError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn libraries() -> Vec<(String, Vec<u8>)> {
        vec![("x86_64-linux".into(), b"\x7fELF x86".to_vec()), ("aarch64-linux".into(), b"\x7fELF arm".to_vec())]
    }

    #[test]
    fn an_archive_reads_back_what_was_written_gzipped_or_not() {
        for gzip in [false, true] {
            let bytes = write("a.b.c", &libraries(), gzip).unwrap();
            let contents = read(&bytes[..], Some("aarch64-linux")).unwrap();
            assert_eq!(contents.claims, "a.b.c");
            assert_eq!(contents.gzipped, gzip);
            let targets: Vec<&str> = contents.libraries.iter().map(|l| l.target.as_str()).collect();
            assert_eq!(targets, ["aarch64-linux", "x86_64-linux"]);
            let arm = contents.library("aarch64-linux").unwrap();
            assert_eq!(arm.bytes.as_deref(), Some(&b"\x7fELF arm"[..]));
            assert_eq!(arm.hash, hash_bytes(b"\x7fELF arm"));
            let x86 = contents.library("x86_64-linux").unwrap();
            assert_eq!((x86.bytes.as_ref(), x86.size, x86.hash.clone()), (None, 8, hash_bytes(b"\x7fELF x86")));
        }
    }

    #[test]
    fn the_same_inputs_write_the_same_bytes() {
        let mut reversed = libraries();
        reversed.reverse();
        assert_eq!(write("t", &libraries(), true).unwrap(), write("t", &reversed, true).unwrap());
    }

    #[test]
    fn an_archive_without_claims_is_unsigned() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(3);
        builder.append_data(&mut header, "x86_64-linux.bin", &b"lib"[..]).unwrap();
        let bytes = builder.into_inner().unwrap();
        assert!(matches!(read(&bytes[..], None), Err(ArchiveError::NoClaims)));
    }

    /// An archive with one extra entry, as an attacker would craft it.
    fn with_entry(name: &str, kind: tar::EntryType) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_entry_type(kind);
        builder.append_data(&mut header, CLAIMS_FILE, &b"ab"[..]).unwrap();
        // The name written raw: the builder itself refuses `..`.
        let mut header = tar::Header::new_gnu();
        header.set_size(if kind == tar::EntryType::Regular { 2 } else { 0 });
        header.set_entry_type(kind);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if kind == tar::EntryType::Symlink {
            header.set_link_name("/etc/passwd").unwrap();
        }
        header.set_cksum();
        let data: &[u8] = if kind == tar::EntryType::Regular { b"ab" } else { b"" };
        builder.append(&header, data).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_path_traversal_entry_is_refused_by_name() {
        let err = read(&with_entry("../../etc/x86_64-linux.bin", tar::EntryType::Regular)[..], None).unwrap_err();
        assert!(err.to_string().contains("`../../etc/x86_64-linux.bin` is neither claims.jwt"), "{err}");
    }

    #[test]
    fn a_symlink_entry_is_refused_as_not_a_regular_file() {
        let err = read(&with_entry("x86_64-linux.bin", tar::EntryType::Symlink)[..], None).unwrap_err();
        assert!(err.to_string().contains("is not a regular file"), "{err}");
    }

    #[test]
    fn a_second_claims_file_is_refused() {
        let err = read(&with_entry(CLAIMS_FILE, tar::EntryType::Regular)[..], None).unwrap_err();
        assert!(err.to_string().contains("`claims.jwt` is there twice"), "{err}");
    }

    #[test]
    fn a_gzip_bomb_is_refused_past_the_unpacked_limit() {
        // Zeros compress a thousandfold; the reader stops at the limit
        // instead of inflating it all.
        let library = vec![0u8; 4 << 20];
        let bomb = write("a.b.c", &[("x86_64-linux".into(), library)], true).unwrap();
        assert!(bomb.len() < 64 << 10, "the bomb is small: {}", bomb.len());
        let err = read_within(&bomb[..], None, 1 << 20).unwrap_err();
        assert!(matches!(err, ArchiveError::TooLarge), "{err}");
        assert!(read_within(&bomb[..], None, 8 << 20).is_ok(), "under the limit it reads");
    }

    #[test]
    fn triples_map_to_target_names_with_the_arm_abis_apart() {
        use crate::target::target_for_triple;
        for (triple, name) in [
            ("x86_64-unknown-linux-gnu", Some("x86_64-linux")),
            ("aarch64-unknown-linux-gnu", Some("aarch64-linux")),
            ("aarch64-unknown-linux-musl", Some("aarch64-linux")),
            ("armv7-unknown-linux-gnueabihf", Some("armv7-linux")),
            ("arm-unknown-linux-gnueabihf", Some("armv6hf-linux")),
            ("arm-unknown-linux-gnueabi", Some("armv6-linux")),
            ("aarch64-apple-darwin", Some("aarch64-macos")),
            ("wasm32-unknown-unknown", None),
        ] {
            assert_eq!(target_for_triple(triple), name, "{triple}");
        }
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        assert_eq!(crate::provider::HOST_TARGET, "x86_64-linux");
        #[cfg(all(target_arch = "aarch64", target_os = "linux"))]
        assert_eq!(crate::provider::HOST_TARGET, "aarch64-linux");
    }

    #[test]
    fn target_names_are_arch_dash_os() {
        for good in ["x86_64-linux", "aarch64-linux", "armv7-linux", "armv6-linux"] {
            assert!(is_target_name(good), "{good}");
        }
        for bad in ["", "linux", "../x-linux", "x86_64-linux/..", "a-b-c", "-linux", "x86_64-", "x86 64-linux"] {
            assert!(!is_target_name(bad), "{bad}");
        }
        assert!(matches!(write("t", &[("../x".into(), Vec::new())], false), Err(ArchiveError::TargetName(_))));
    }

    proptest! {
        #[test]
        fn reading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = read(&bytes[..], Some("x86_64-linux"));
        }

        #[test]
        fn any_written_archive_reads_back(
            claims in "[A-Za-z0-9._-]{0,200}",
            libs in proptest::collection::btree_map("[a-z0-9_]{1,8}-[a-z0-9_]{1,8}", proptest::collection::vec(any::<u8>(), 0..512), 0..4),
            gzip in any::<bool>(),
        ) {
            let libraries: Vec<(String, Vec<u8>)> = libs.into_iter().collect();
            let bytes = write(&claims, &libraries, gzip).unwrap();
            let contents = read(&bytes[..], None).unwrap();
            prop_assert_eq!(&contents.claims, &claims);
            prop_assert_eq!(contents.libraries.len(), libraries.len());
            for (target, data) in &libraries {
                let library = contents.library(target).unwrap();
                prop_assert_eq!(&library.hash, &hash_bytes(data));
                prop_assert_eq!(library.size, data.len() as u64);
            }
        }

        #[test]
        fn a_truncated_archive_is_an_error_not_a_panic(cut in 0usize..2048, gzip in any::<bool>()) {
            let bytes = write("a.b.c", &libraries(), gzip).unwrap();
            let cut = cut.min(bytes.len());
            let _ = read(&bytes[..cut], None);
        }
    }
}
