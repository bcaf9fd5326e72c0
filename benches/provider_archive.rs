//! What verifying a provider archive costs at start
//! (`host_edge_runtime::provider::trust::check`): reading it once, unpacking it,
//! hashing every library and checking the signed claims, for libraries of
//! 1, 2 and 4 MiB (the sizes of the release-built providers), gzipped and
//! not; beside it, the archive sizes. Writing the verified library into the
//! state directory afterwards is one file write of that size (none when an
//! identical copy is there, only a comparison).
//!
//! The libraries are incompressible bytes behind an ELF header, the worst
//! case for gzip; real libraries compress to about a third. The `dlopen`
//! after the check is the same for a bare library and is not measured.
//!
//! Run with `cargo bench -p host-edge-benches --bench provider_archive`.

use std::time::Duration;

use host_edge_runtime::claims::provider::HOST_TARGET;
use host_edge_runtime::claims::{sign_archive, Policy, ProviderSignOptions};
use host_edge_runtime::provider::trust::{self, Checked, ProviderTrust};
use host_edge_benches::measure;
use nkeys::KeyPair;

/// A stand-in library of `size` bytes: an ELF header, then bytes from a
/// fixed-seed xorshift (incompressible, repeatable).
fn library(size: usize) -> Vec<u8> {
    let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

fn main() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let issuer = KeyPair::new_account();
    let capability = host_edge_runtime::capability::CapabilityId::parse("wascc:keyvalue").expect("an id");
    let options = ProviderSignOptions::new(capability, host_edge_runtime::claims::policy::now_secs());
    let trust = ProviderTrust {
        policy: Policy { trusted_issuers: [issuer.public_key()].into(), ..Policy::default() },
        now: host_edge_runtime::claims::policy::now_secs(),
        allow_unsigned: false,
    };
    for mib in [1usize, 2, 4] {
        let bytes = library(mib << 20);
        for gzip in [false, true] {
            let archive = sign_archive(&[(HOST_TARGET.to_owned(), bytes.clone())], &issuer, &KeyPair::new_service(), &options, gzip)
                .expect("signing");
            let path = dir.path().join(format!("{mib}.par{}", if gzip { ".gz" } else { "" }));
            std::fs::write(&path, &archive).expect("writing the archive");
            let name = format!("check, {mib} MiB library, {} ({} KiB)", if gzip { "gzipped" } else { "plain tar" }, archive.len() / 1024);
            measure(&name, 2, 50, Duration::from_secs(5), || {
                let checked = trust::check(&path, &trust).expect("the archive verifies");
                assert!(matches!(checked, Checked::Signed(_)));
            });
        }
    }
}
