//! A 64 KiB stack instead of Rust's 1 MiB default: the deny component needs almost none,
//! and its linear memory is part of every Python remediation's memory limit.

fn main() {
    #[expect(
        clippy::disallowed_methods,
        reason = "a build script reads cargo's environment"
    )]
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=65536");
    }
}
