//! The claims custom section: finding it, cutting it out, writing it back.
//!
//! The module hash in a token is the SHA-256 of the module with its claims
//! section removed and every other byte kept exactly as it was. Re-encoding
//! sections (as wascap does) can change size encodings and so the hash; this
//! module works on byte ranges only, using wasmparser to find the section
//! boundaries.

use sha2::{Digest, Sha256};
use std::ops::Range;
use wasmparser::{Parser, Payload};

/// The custom section waSCC and early wascap write the token into.
pub const SECTION_JWT: &str = "jwt";
/// The custom section newer wascap (wasmCloud) writes the token into.
pub const SECTION_WASMCLOUD_JWT: &str = "wasmcloud_jwt";

/// Why the bytes are not a module whose sections can be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SectionError {
    /// The bytes do not start with the wasm magic number and version 1.
    #[error("not a WebAssembly module (bad magic number or version)")]
    NotWasm,
    /// A section could not be parsed; the file is truncated or corrupt.
    #[error("malformed module at byte {offset}: {message}")]
    Malformed {
        /// Where the parser stopped.
        offset: usize,
        /// What the parser said.
        message: String,
    },
    /// The claims section is not valid UTF-8.
    #[error("the `{0}` section is not UTF-8 text")]
    NotUtf8(String),
}

/// A claims section found in a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsSection {
    /// The section name (`jwt` or `wasmcloud_jwt`).
    pub name: String,
    /// The token text.
    pub token: String,
    /// The whole section in the module: id byte, size and body.
    pub range: Range<usize>,
}

/// The result of scanning a module's sections.
#[derive(Debug, Clone)]
pub struct ModuleSections {
    /// Every claims section, in file order.
    pub claims: Vec<ClaimsSection>,
}

fn is_claims_section(name: &str) -> bool {
    name == SECTION_JWT || name == SECTION_WASMCLOUD_JWT
}

/// Walks the module's top-level sections and collects the claims sections.
///
/// Only section framing is checked here (and the module must end exactly after
/// its last section); validating the code is the engine's job.
pub fn scan(module: &[u8]) -> Result<ModuleSections, SectionError> {
    if module.len() < 8 || &module[0..4] != b"\0asm" || module[4..8] != [1, 0, 0, 0] {
        return Err(SectionError::NotWasm);
    }
    let mut claims = Vec::new();
    // Sections are contiguous: each starts where the previous one ended.
    let mut section_start = 8;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(|e| SectionError::Malformed {
            offset: e.offset(),
            message: e.message().to_owned(),
        })?;
        match &payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => {
                return Err(SectionError::Malformed {
                    offset: section_start,
                    message: "components are not supported; expected a core module".into(),
                })
            }
            Payload::End(end) if *end != module.len() => {
                return Err(SectionError::Malformed {
                    offset: *end,
                    message: "trailing bytes after the last section".into(),
                })
            }
            _ => {}
        }
        let Some((_, body)) = payload.as_section() else {
            continue;
        };
        if let Payload::CustomSection(custom) = &payload {
            if is_claims_section(custom.name()) {
                let token = std::str::from_utf8(custom.data())
                    .map_err(|_| SectionError::NotUtf8(custom.name().to_owned()))?;
                claims.push(ClaimsSection {
                    name: custom.name().to_owned(),
                    token: token.to_owned(),
                    range: section_start..body.end,
                });
            }
        }
        section_start = body.end;
    }
    Ok(ModuleSections { claims })
}

/// The module with every claims section cut out, all other bytes untouched.
pub fn strip_claims(module: &[u8]) -> Result<Vec<u8>, SectionError> {
    let sections = scan(module)?;
    let mut out = Vec::with_capacity(module.len());
    let mut from = 0;
    for section in &sections.claims {
        out.extend_from_slice(&module[from..section.range.start]);
        from = section.range.end;
    }
    out.extend_from_slice(&module[from..]);
    Ok(out)
}

/// The module hash as tokens carry it: SHA-256, uppercase hex, of the module
/// with its claims section(s) cut out.
pub fn module_hash(module: &[u8]) -> Result<String, SectionError> {
    Ok(hash_without_claims(module, &scan(module)?))
}

/// [`module_hash`] of a module already scanned: the bytes around its claims
/// sections are hashed where they lie, in one pass, with no copy.
pub fn hash_without_claims(module: &[u8], sections: &ModuleSections) -> String {
    let mut hasher = Sha256::new();
    let mut from = 0;
    for section in &sections.claims {
        hasher.update(&module[from..section.range.start]);
        from = section.range.end;
    }
    hasher.update(&module[from..]);
    data_encoding::HEXUPPER.encode(&hasher.finalize())
}

/// SHA-256 of `bytes`, uppercase hex.
pub fn hash_bytes(bytes: &[u8]) -> String {
    data_encoding::HEXUPPER.encode(&Sha256::digest(bytes))
}

/// Appends a `jwt` custom section holding `token` to a module that has no
/// claims section. Every existing byte is kept.
pub fn append_claims(stripped: &[u8], token: &str) -> Vec<u8> {
    use wasm_encoder::{CustomSection, Encode};
    let section = CustomSection {
        name: SECTION_JWT.into(),
        data: token.as_bytes().into(),
    };
    let mut out = stripped.to_vec();
    out.push(0); // custom section id
    section.encode(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module)` with a type section, written with a padded (non-minimal)
    /// LEB128 size, as some toolchains emit.
    fn padded_module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[1, 0x84, 0x80, 0x80, 0x80, 0x00, 0x01, 0x60, 0x00, 0x00]);
        m
    }

    #[test]
    fn appending_then_stripping_gives_back_the_exact_bytes() {
        let original = padded_module();
        let signed = append_claims(&original, "a.b.c");
        assert_eq!(strip_claims(&signed).unwrap(), original);
        let found = scan(&signed).unwrap().claims;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].token, "a.b.c");
    }

    #[test]
    fn the_hash_ignores_the_claims_section_only() {
        let original = padded_module();
        let signed = append_claims(&original, "x.y.z");
        assert_eq!(module_hash(&signed).unwrap(), hash_bytes(&original));
        assert_ne!(module_hash(&signed).unwrap(), hash_bytes(&signed));
    }

    #[test]
    fn a_truncated_module_is_malformed() {
        let signed = append_claims(&padded_module(), "x.y.z");
        let err = scan(&signed[..signed.len() - 3]).unwrap_err();
        assert!(matches!(err, SectionError::Malformed { .. }), "{err}");
    }

    #[test]
    fn bytes_that_are_not_wasm_are_named_as_such() {
        assert_eq!(scan(b"#!/bin/sh\n").unwrap_err(), SectionError::NotWasm);
        assert_eq!(scan(b"").unwrap_err(), SectionError::NotWasm);
    }
}
