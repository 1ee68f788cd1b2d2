//! Python remediations: `app.py` using the `medic_guest` package (vendored beside it by
//! `medic new`), built with componentize-py from PyPI, then composed with medic's deny
//! component (`python/wasi-deny`) so that it imports only what medic links.
//!
//! CPython in WebAssembly imports wasi:filesystem and wasi:sockets; medic never links
//! them, so a plain componentize-py component would not instantiate. The deny component
//! exports both, refusing everything (one preopen `/` that denies, no sockets); plugged
//! into the Python component (`wac-graph`), it leaves a component whose only imports are
//! wasi io, cli, clocks, random and medic's interfaces, checked here before it is
//! written. The sandbox, manifest and ceilings are then the same as for Rust.
//!
//! componentize-py's output is not byte-reproducible (its build-time snapshot of the
//! interpreter varies; upstream componentize-py issue 247): the sha256 `medic build` pins
//! is that of the exact bytes built, and a rebuild pins a new one.

use std::path::Path;

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, plug};

use super::AuthoringError;
use super::scaffold::{NewRemediation, WIT, common_files, render};
use crate::process::tool::{run_tool, tool_command, tool_output};

include!(concat!(env!("OUT_DIR"), "/wasi_deny.rs"));

/// The componentize-py release medic is tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";
/// The Python SDK's files, as `medic new` vendors them (`vendor/medic_guest/`).
const PYTHON_SDK: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../../../python/medic_guest/__init__.py"),
    ),
    (
        "_host.py",
        include_str!("../../../python/medic_guest/_host.py"),
    ),
    (
        "checkpoint.py",
        include_str!("../../../python/medic_guest/checkpoint.py"),
    ),
    ("env.py", include_str!("../../../python/medic_guest/env.py")),
    (
        "errors.py",
        include_str!("../../../python/medic_guest/errors.py"),
    ),
    (
        "exec.py",
        include_str!("../../../python/medic_guest/exec.py"),
    ),
    (
        "export.py",
        include_str!("../../../python/medic_guest/export.py"),
    ),
    ("fs.py", include_str!("../../../python/medic_guest/fs.py")),
    (
        "http.py",
        include_str!("../../../python/medic_guest/http.py"),
    ),
    (
        "incident.py",
        include_str!("../../../python/medic_guest/incident.py"),
    ),
    ("log.py", include_str!("../../../python/medic_guest/log.py")),
];
const APP: &str = include_str!("../../templates/python/app.py");
const TEST_APP: &str = include_str!("../../templates/python/test_app.py");
/// What a built Python remediation may import: exactly what medic's linker provides.
const ALLOWED_IMPORTS: &[&str] = &[
    "wasi:io/",
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:random/",
    "medic:remediation/",
];

/// The files of a new Python remediation.
pub(crate) fn files(request: &NewRemediation) -> Vec<(String, String)> {
    let type_name = super::scaffold::type_name(&request.name);
    let sdk_docs = format!(
        "The SDK's reference: `python3 -m pydoc vendor/medic_guest` (docstrings on every call).\nBuilding needs componentize-py: `pip install componentize-py=={COMPONENTIZE_PY_VERSION}`.\n"
    );
    let component = format!("{}.wasm", request.name.replace('-', "_"));
    let mut files = common_files(
        request,
        &component,
        "64MiB",
        &[
            (
                "files_table",
                "| `app.py` | the remediation: a class with `plan`, `apply`, `verify`, `rollback`, exported as `Remediation` |\n| `test_app.py` | native tests of its logic (`python3 -m unittest`) |\n| `vendor/` | the `medic_guest` SDK and medic's WIT, vendored by `medic new` |",
            ),
            (
                "test_native",
                "python3 -m unittest       # the pure logic, natively (host calls raise NotInSandbox)\n",
            ),
            ("sdk_docs", &sdk_docs),
        ],
    );
    let values = [("name", request.name.as_str()), ("type_name", &type_name)];
    files.push(("app.py".to_string(), render(APP, &values)));
    files.push(("test_app.py".to_string(), render(TEST_APP, &values)));
    files.push((".gitignore".to_string(), "__pycache__/\n".to_string()));
    for (file, text) in PYTHON_SDK {
        files.push((format!("vendor/medic_guest/{file}"), text.to_string()));
    }
    files.push(("vendor/wit/medic.wit".to_string(), WIT.to_string()));
    files.sort();
    files
}

/// Build `dir/app.py` with componentize-py and compose the deny component into it.
pub(crate) fn build_python(dir: &Path) -> Result<Vec<u8>, AuthoringError> {
    // componentize-py runs in `dir`, so every path handed to it is absolute.
    let dir = &std::fs::canonicalize(dir).map_err(|source| AuthoringError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let tool = "componentize-py";
    let Some(version) = tool_output(tool, &["--version"], dir) else {
        return Err(AuthoringError::Toolchain(format!(
            "componentize-py is not installed (or not on PATH): `pip install componentize-py=={COMPONENTIZE_PY_VERSION}`"
        )));
    };
    // Another version may generate other bindings for the same WIT, or other imports:
    // build only with the one the SDK and the deny component are made for.
    let version = version.trim();
    if version.rsplit(' ').next() != Some(COMPONENTIZE_PY_VERSION) {
        return Err(AuthoringError::Toolchain(format!(
            "`componentize-py --version` says `{version}`; medic builds with componentize-py {COMPONENTIZE_PY_VERSION}: `pip install componentize-py=={COMPONENTIZE_PY_VERSION}`"
        )));
    }
    let wit = dir.join("vendor").join("wit");
    if !wit.join("medic.wit").is_file() {
        return Err(AuthoringError::Project(format!(
            "`{}` is missing: `medic new remediation NAME --lang python` vendors medic's WIT there",
            wit.join("medic.wit").display()
        )));
    }
    let scratch = tempfile::tempdir().map_err(|source| AuthoringError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let python = scratch.path().join("python.wasm");
    let mut command = tool_command(tool);
    command
        .current_dir(dir)
        .arg("-d")
        .arg(&wit)
        .arg("-w")
        .arg("remediation-world")
        .arg("componentize")
        .arg("app")
        .arg("-p")
        .arg(".")
        .arg("-p")
        .arg("vendor")
        .arg("-o")
        .arg(&python);
    run_tool(command)?;
    let bytes = std::fs::read(&python).map_err(|source| AuthoringError::Io {
        path: python.clone(),
        source,
    })?;
    compose(&bytes)
}

/// Plug the deny component into `python`, and fail unless what is left imports only
/// what medic links.
pub fn compose(python: &[u8]) -> Result<Vec<u8>, AuthoringError> {
    let failed = |what: &str, error: &dyn std::fmt::Display| {
        AuthoringError::Project(format!(
            "cannot compose the Python component with medic's deny component ({what}): {error}"
        ))
    };
    let mut graph = CompositionGraph::new();
    let socket = Package::from_bytes("python", None, python.to_vec(), graph.types_mut())
        .map_err(|error| failed("reading it", &error))?;
    let socket = graph
        .register_package(socket)
        .map_err(|error| failed("registering it", &error))?;
    let deny = Package::from_bytes("deny", None, WASI_DENY.to_vec(), graph.types_mut())
        .map_err(|error| failed("reading the deny component", &error))?;
    let deny = graph
        .register_package(deny)
        .map_err(|error| failed("registering the deny component", &error))?;
    plug(&mut graph, vec![deny], socket).map_err(|error| failed("plugging", &error))?;
    let bytes = graph
        .encode(EncodeOptions::default())
        .map_err(|error| failed("encoding", &error))?;
    // `plug` leaves an import it cannot fill (a version it does not match) in place
    // without an error: check what is left.
    let imports = top_level_imports(&bytes).map_err(|error| failed("listing imports", &error))?;
    if let Some(left) = imports.iter().find(|name| {
        !ALLOWED_IMPORTS
            .iter()
            .any(|allowed| name.starts_with(allowed))
    }) {
        return Err(AuthoringError::Project(format!(
            "the composed component still imports `{left}`, which medic does not link; medic supports componentize-py {COMPONENTIZE_PY_VERSION}"
        )));
    }
    Ok(bytes)
}

/// The names a component imports at its top level.
pub fn top_level_imports(bytes: &[u8]) -> Result<Vec<String>, wasmparser::BinaryReaderError> {
    let mut imports = Vec::new();
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload? {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(section) if depth == 1 => {
                for import in section {
                    imports.push(import?.name.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(imports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deny_component_imports_only_what_medic_links() {
        let imports = top_level_imports(WASI_DENY).unwrap();
        assert!(!imports.is_empty());
        for name in &imports {
            assert!(
                ALLOWED_IMPORTS
                    .iter()
                    .any(|allowed| name.starts_with(allowed)),
                "{name}"
            );
        }
    }

    #[test]
    fn every_sdk_file_is_vendored() {
        let mut on_disk: Vec<String> = std::fs::read_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../python/medic_guest"
        ))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".py"))
        .collect();
        on_disk.sort();
        let mut vendored: Vec<String> = PYTHON_SDK
            .iter()
            .map(|(file, _)| file.to_string())
            .collect();
        vendored.sort();
        assert_eq!(vendored, on_disk);
    }
}
