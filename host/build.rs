//! Builds the bundled remediations (`remediations/*`) into components and embeds them, with
//! their manifests, in the `medic` binary. Needs the `wasm32-wasip2` target.
#![expect(
    clippy::disallowed_methods,
    reason = "a build script reads cargo's environment"
)]

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let workspace = medic_build_guests::workspace_root(&manifest_dir);
    let crate_dirs = medic_build_guests::crate_dirs(&workspace.join("remediations"))?;
    let built = medic_build_guests::build(&workspace, &crate_dirs)?;
    let mut source = String::from(
        "/// Remediations compiled into this binary.\npub static BUNDLED: &[Bundled] = &[\n",
    );
    for guest in &built {
        let manifest_path = guest.crate_dir.join("remediation.toml");
        println!("cargo:rerun-if-changed={}", manifest_path.display());
        let manifest = std::fs::read_to_string(&manifest_path)?;
        let pinned = manifest
            .lines()
            .find_map(|line| line.trim().strip_prefix("sha256"))
            .map(|rest| {
                rest.trim_start_matches([' ', '='])
                    .trim()
                    .trim_matches('"')
                    .to_string()
            });
        if pinned.as_deref() != Some(guest.sha256.as_str()) {
            println!(
                "cargo:warning=remediation `{}` built to sha256 {} but its manifest pins {:?}; update {} if the change is intended",
                guest.crate_name,
                guest.sha256,
                pinned.unwrap_or_default(),
                manifest_path.display()
            );
        }
        writeln!(
            source,
            "    Bundled {{ name: {:?}, manifest: include_str!({:?}), wasm: include_bytes!({:?}) }},",
            guest.crate_name,
            manifest_path.display().to_string(),
            guest.wasm_path.display().to_string()
        )?;
    }
    source.push_str("];\n");
    std::fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("bundled.rs"),
        source,
    )?;
    Ok(())
}
