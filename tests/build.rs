//! Tells testkit which target its tests were built for and which machine
//! built them: when they differ (`cargo test --target armv7-unknown-linux-gnueabihf`,
//! run under qemu-user by the runner in .cargo/config.toml), the providers
//! and the host-edge binary the tests load are built for the same target.

fn main() {
    for name in ["TARGET", "HOST"] {
        let value = std::env::var(name).expect("cargo sets TARGET and HOST for build scripts");
        println!("cargo:rustc-env=TESTKIT_{name}={value}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
