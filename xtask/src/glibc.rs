//! The glibc floor of a bundle: the newest `GLIBC_x.y` symbol version any
//! ELF file in it needs, read from each file's version-needs table
//! (`.gnu.version_r`), the list the dynamic loader checks at start. A file
//! that needs a version newer than the board's glibc does not start there
//! ("version `GLIBC_2.34' not found"), so the check is mechanical: no file
//! may need more than the floor.

use std::path::{Path, PathBuf};

use object::elf::{FileHeader32, FileHeader64};
use object::read::elf::FileHeader;
use object::{Endianness, FileKind};

/// A glibc version: `Version(2, 31)` is 2.31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// One file that needs glibc versions newer than the floor.
pub struct TooNew {
    pub file: PathBuf,
    pub versions: Vec<String>,
}

/// Parses `GLIBC_2.31` (or `2.31`) into `Version(2, 31)`.
pub fn parse(text: &str) -> Option<Version> {
    let text = text.strip_prefix("GLIBC_").unwrap_or(text);
    let (major, rest) = text.split_once('.')?;
    let minor = rest.split('.').next()?;
    Some(Version(major.parse().ok()?, minor.parse().ok()?))
}

/// The `GLIBC_*` versions `data` (an ELF file) needs, or `None` when it is
/// not an ELF file.
fn needs(data: &[u8]) -> Result<Option<Vec<String>>, object::Error> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf32) => versions::<FileHeader32<Endianness>>(data).map(Some),
        Ok(FileKind::Elf64) => versions::<FileHeader64<Endianness>>(data).map(Some),
        _ => Ok(None),
    }
}

fn versions<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<Vec<String>, object::Error> {
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let sections = header.sections(endian, data)?;
    let mut found = Vec::new();
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
        while let Some((_, mut aux)) = needs.next()? {
            while let Some(version) = aux.next()? {
                let name = String::from_utf8_lossy(version.name(endian, strings)?).into_owned();
                if name.starts_with("GLIBC_") && !found.contains(&name) {
                    found.push(name);
                }
            }
        }
    }
    Ok(found)
}

/// Every ELF file under `dir` that needs a glibc newer than `floor`, and
/// the newest version any file needs. Files that are not ELF are skipped.
pub fn check(dir: &Path, floor: Version) -> Result<(Vec<TooNew>, Option<Version>), String> {
    let mut too_new = Vec::new();
    let mut newest = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            let entries = std::fs::read_dir(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            stack.extend(entries.map_while(Result::ok).map(|entry| entry.path()));
            continue;
        }
        let data = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let Some(names) = needs(&data).map_err(|e| format!("{}: not a readable ELF file: {e}", path.display()))? else {
            continue;
        };
        newest = newest.max(names.iter().filter_map(|name| parse(name)).max());
        let mut over: Vec<String> = names.into_iter().filter(|name| parse(name).is_some_and(|v| v > floor)).collect();
        if !over.is_empty() {
            over.sort_by_key(|name| parse(name));
            too_new.push(TooNew { file: path, versions: over });
        }
    }
    too_new.sort_by(|a, b| a.file.cmp(&b.file));
    Ok((too_new, newest))
}
