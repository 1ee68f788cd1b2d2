//! Builds the hostile test guests under `tests/guests/` and fails if one has no test: each
//! guest's name must appear in the host's integration tests (`host/tests/it/`).
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
    let crate_dirs = medic_build_guests::crate_dirs(&manifest_dir.join("guests"))?;
    let tests_dir = workspace.join("host").join("tests").join("it");
    println!("cargo:rerun-if-changed={}", tests_dir.display());
    let mut test_text = String::new();
    for entry in std::fs::read_dir(&tests_dir)? {
        test_text.push_str(&std::fs::read_to_string(entry?.path())?);
    }
    let built = medic_build_guests::build(&workspace, &crate_dirs)?;
    let mut source = String::from(
        "/// The hostile guests, by crate name, with their built components.\npub static GUESTS: &[(&str, &str)] = &[\n",
    );
    for guest in &built {
        if !test_text.contains(&format!("\"{}\"", guest.crate_name)) {
            return Err(format!(
                "test guest `{}` has no test in {}",
                guest.crate_name,
                tests_dir.display()
            )
            .into());
        }
        writeln!(
            source,
            "    ({:?}, {:?}),",
            guest.crate_name,
            guest.wasm_path.display().to_string()
        )?;
    }
    source.push_str("];\n");
    std::fs::write(
        PathBuf::from(env::var("OUT_DIR")?).join("guests.rs"),
        source,
    )?;
    Ok(())
}
