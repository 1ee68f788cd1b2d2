//! Builds the bundled remediations (`remediations/*`) into components and embeds them, with
//! their manifests and scenarios, in the `medic` binary. Needs the `wasm32-wasip2` target. Also fingerprints
//! the pattern sources (`host/patterns/`), so the binary uses the prebuilt pattern library
//! (`patterns/library.jsonl`) only while it was generated from exactly these sources.
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
    fingerprint_patterns(&manifest_dir)?;
    let workspace = medic_build_guests::workspace_root(&manifest_dir);
    let mut crate_dirs = medic_build_guests::crate_dirs(&workspace.join("remediations"))?;
    // The deny component `medic build` composes into Python remediations, built in the
    // same cargo run.
    let deny_dir = workspace.join("python").join("wasi-deny");
    crate_dirs.push(deny_dir.clone());
    let mut built = medic_build_guests::build(&workspace, &crate_dirs)?;
    let deny = built
        .pop()
        .filter(|guest| guest.crate_dir == deny_dir)
        .ok_or("wasi-deny was not built")?;
    std::fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("wasi_deny.rs"),
        format!(
            "/// The deny component (`python/wasi-deny`), composed into every Python remediation.\npub static WASI_DENY: &[u8] = include_bytes!({:?});\n",
            deny.wasm_path.display().to_string()
        ),
    )?;
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
        let scenario_dir = guest.crate_dir.join("scenarios");
        println!("cargo:rerun-if-changed={}", scenario_dir.display());
        let mut scenarios = Vec::new();
        if scenario_dir.is_dir() {
            for entry in std::fs::read_dir(&scenario_dir)? {
                let path = entry?.path();
                if path
                    .extension()
                    .is_some_and(|extension| extension == "toml")
                {
                    scenarios.push(path);
                }
            }
        }
        scenarios.sort();
        let scenarios: Vec<String> = scenarios
            .iter()
            .map(|path| {
                format!(
                    "({:?}, include_str!({:?}))",
                    path.file_name().unwrap_or_default().to_string_lossy(),
                    path.display().to_string()
                )
            })
            .collect();
        writeln!(
            source,
            "    Bundled {{ name: {:?}, manifest: include_str!({:?}), wasm: include_bytes!({:?}), scenarios: &[{}] }},",
            guest.crate_name,
            manifest_path.display().to_string(),
            guest.wasm_path.display().to_string(),
            scenarios.join(", ")
        )?;
    }
    source.push_str("];\n");
    std::fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("bundled.rs"),
        source,
    )?;
    Ok(())
}

/// The file the prebuilt library is kept in; not a source of itself.
const PREBUILT: &str = "library.jsonl";

/// Write `pattern_sources.rs`: `PATTERN_SOURCES`, an FNV-1a hash of every file under
/// `host/patterns/` but the prebuilt library, with its path, in path order. The library's
/// first line records the hash it was generated from; when they differ, medic builds the
/// library from the sources (slower, same result) and this warns.
fn fingerprint_patterns(manifest_dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = manifest_dir.join("patterns");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|name| name != PREBUILT) {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in &files {
        let relative = path.strip_prefix(&root)?.to_string_lossy().into_owned();
        for byte in relative.bytes().chain([0]).chain(std::fs::read(path)?) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    let fingerprint = format!("{hash:016x}");
    let prebuilt = std::fs::read_to_string(root.join(PREBUILT)).unwrap_or_default();
    if !prebuilt.starts_with(&format!("{{\"sources\":\"{fingerprint}\"")) {
        println!(
            "cargo:warning=host/patterns/{PREBUILT} is stale: medic will build its pattern library at every start; regenerate it with `UPDATE_EXPECT=1 cargo test -p medic-host --lib prebuilt`"
        );
    }
    std::fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("pattern_sources.rs"),
        format!(
            "/// Fingerprint of the pattern sources this binary was built from (see build.rs).\npub(crate) const PATTERN_SOURCES: &str = \"{fingerprint}\";\n"
        ),
    )?;
    Ok(())
}
