//! `medic new remediation NAME`: a working remediation laid out in one step, with the
//! tightest manifest that fits its code, declared parameters, scenarios that pass, a
//! README, and the SDK vendored beside it (or the workspace's own SDK inside medic's
//! repository), so the first `medic build` and `medic test` succeed.
//!
//! Nothing is overwritten: the folder is written under a temporary name and renamed into
//! place only when complete, and a folder already there is refused.

use std::path::{Path, PathBuf};

use super::{AuthoringError, CONTRACT, Language, MAX_CARGO_TOML_BYTES, write_atomically};
use crate::manifest::Risk;

/// The Rust SDK's files, as `medic new` vendors them (`vendor/medic-guest-sdk/src/`).
const RUST_SDK: &[(&str, &str)] = &[
    ("lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    (
        "checkpoint.rs",
        include_str!("../../../guest-sdk/src/checkpoint.rs"),
    ),
    ("env.rs", include_str!("../../../guest-sdk/src/env.rs")),
    ("error.rs", include_str!("../../../guest-sdk/src/error.rs")),
    ("exec.rs", include_str!("../../../guest-sdk/src/exec.rs")),
    ("fs.rs", include_str!("../../../guest-sdk/src/fs.rs")),
    ("http.rs", include_str!("../../../guest-sdk/src/http.rs")),
    (
        "incident.rs",
        include_str!("../../../guest-sdk/src/incident.rs"),
    ),
    ("log.rs", include_str!("../../../guest-sdk/src/log.rs")),
];
/// The contract, vendored as `vendor/wit/medic.wit`.
pub const WIT: &str = include_str!("../../../wit/medic.wit");
/// The Rust SDK's version, as its `Cargo.toml` says (a test holds them equal).
pub const RUST_SDK_VERSION: &str = "0.1.0";
/// The wit-bindgen the SDK is built with (a test holds it equal to the workspace's).
pub const WIT_BINDGEN_VERSION: &str = "0.61.1";

const RUST_LIB: &str = include_str!("../../templates/rust/lib.rs");
const MANIFEST: &str = include_str!("../../templates/common/remediation.toml");
const README: &str = include_str!("../../templates/common/README.md");
const SCENARIOS: &[(&str, &str)] = &[
    (
        "reloads-and-answers.toml",
        include_str!("../../templates/common/scenarios/reloads-and-answers.toml"),
    ),
    (
        "unhealthy-after-reload.toml",
        include_str!("../../templates/common/scenarios/unhealthy-after-reload.toml"),
    ),
    (
        "refuses-a-remote-url.toml",
        include_str!("../../templates/common/scenarios/refuses-a-remote-url.toml"),
    ),
];

/// What to lay out.
#[derive(Debug, Clone)]
pub struct NewRemediation {
    /// Kebab-case id: the folder, the crate and the manifest's `name`.
    pub name: String,
    /// The manifest's risk level.
    pub risk: Risk,
    /// Rust or Python.
    pub language: Language,
    /// The folder to create it in.
    pub parent: PathBuf,
}

/// What was laid out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Created {
    /// The new folder.
    pub dir: PathBuf,
    /// Every file written, relative to it.
    pub files: Vec<String>,
    /// The cargo workspace whose members now include it, if any.
    pub workspace: Option<PathBuf>,
}

/// Where the new crate lives, for its `Cargo.toml`.
enum Home {
    /// Its own workspace, the SDK vendored.
    Alone,
    /// A member of medic's own workspace, using its SDK.
    Medic(PathBuf),
    /// A member of another workspace, the SDK vendored.
    Other(PathBuf),
}

/// Lay out the remediation `request` describes.
pub fn new_remediation(request: &NewRemediation) -> Result<Created, AuthoringError> {
    let name = &request.name;
    check_name(name)?;
    let dir = request.parent.join(name);
    if std::fs::symlink_metadata(&dir).is_ok() {
        return Err(AuthoringError::Project(format!(
            "`{}` already exists; medic new never overwrites anything",
            dir.display()
        )));
    }
    let parent = std::fs::canonicalize(&request.parent).map_err(|source| AuthoringError::Io {
        path: request.parent.clone(),
        source,
    })?;
    let home = match request.language {
        Language::Rust => home_of(&parent)?,
        Language::Python => Home::Alone,
    };
    if crate::catalog::bundled(name).is_some() && !matches!(home, Home::Medic(_)) {
        return Err(AuthoringError::Project(format!(
            "`{name}` is the name of a remediation bundled with medic; choose another"
        )));
    }
    let files = match request.language {
        Language::Rust => rust_files(request, &home),
        Language::Python => super::python::files(request),
    };
    // The workspace's new manifest is made first, so one medic cannot edit stops
    // everything before a file is written.
    let workspace_text = match &home {
        Home::Alone => String::new(),
        Home::Medic(root) | Home::Other(root) => with_member(root, &parent.join(name))?,
    };
    // Written whole under a temporary name, then renamed into place.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.medic-new-"))
        .tempdir_in(&parent)
        .map_err(|source| AuthoringError::Io {
            path: parent.clone(),
            source,
        })?;
    for (relative, text) in &files {
        let path = staging.path().join(relative);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|source| AuthoringError::Io {
                path: folder.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| AuthoringError::Io { path, source })?;
    }
    let target = parent.join(name);
    // Renamed into place only if nothing is there by then, not even an empty directory
    // (which a plain `rename` would replace); on any failure the staging directory goes.
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        staging.path(),
        rustix::fs::CWD,
        &target,
        rustix::fs::RenameFlags::NOREPLACE,
    )
    .map_err(|errno| match errno {
        rustix::io::Errno::EXIST => AuthoringError::Project(format!(
            "`{}` already exists; medic new never overwrites anything",
            target.display()
        )),
        errno => AuthoringError::Io {
            path: target.clone(),
            source: errno.into(),
        },
    })?;
    // Moved: nothing is left at the staging path to remove.
    let _ = staging.keep();
    let workspace = match &home {
        Home::Alone => None,
        Home::Medic(root) | Home::Other(root) => {
            let manifest = root.join("Cargo.toml");
            // If the workspace cannot take the crate, the crate goes too: a later `medic
            // new` of the same name must not find half of this one.
            if let Err(error) = write_atomically(&manifest, workspace_text.as_bytes()) {
                let _ = std::fs::remove_dir_all(&target);
                return Err(AuthoringError::Io {
                    path: manifest,
                    source: error,
                });
            }
            Some(root.clone())
        }
    };
    Ok(Created {
        dir: dir.clone(),
        files: files.into_iter().map(|(relative, _)| relative).collect(),
        workspace,
    })
}

fn check_name(name: &str) -> Result<(), AuthoringError> {
    let valid = name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    // A crate cannot be named after a Rust keyword or a crate every crate sees.
    const RESERVED: &[&str] = &[
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "false",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "static",
        "struct",
        "super",
        "trait",
        "true",
        "type",
        "unsafe",
        "use",
        "where",
        "while",
        "abstract",
        "become",
        "box",
        "do",
        "final",
        "gen",
        "macro",
        "override",
        "priv",
        "try",
        "typeof",
        "unsized",
        "virtual",
        "yield",
        "core",
        "std",
        "alloc",
        "proc-macro",
        "test",
    ];
    if valid && RESERVED.contains(&name) {
        return Err(AuthoringError::Project(format!(
            "`{name}` is a Rust keyword or a reserved crate name; choose another (e.g. `{name}-fix`)"
        )));
    }
    if valid {
        Ok(())
    } else {
        Err(AuthoringError::Project(format!(
            "`{name}` is not a remediation name: kebab-case, a-z, 0-9 and `-`, starting with a letter, at most 63 (e.g. `restart-queue-worker`)"
        )))
    }
}

/// The cargo workspace `parent` lies in, if any.
fn home_of(parent: &Path) -> Result<Home, AuthoringError> {
    Ok(match super::workspace_of(parent)? {
        None => Home::Alone,
        Some(root)
            if root.join("wit/medic.wit").is_file()
                && root.join("guest-sdk/Cargo.toml").is_file() =>
        {
            Home::Medic(root)
        }
        Some(root) => Home::Other(root),
    })
}

/// The text of the workspace manifest at `root` with `member` added to its `members`
/// (and `default-members`, when there is one), as `cargo new` does; written by the caller.
fn with_member(root: &Path, member: &Path) -> Result<String, AuthoringError> {
    let manifest = root.join("Cargo.toml");
    let text = crate::nofollow::read_regular_text(&manifest, MAX_CARGO_TOML_BYTES)
        .map_err(|error| AuthoringError::Project(error.to_string()))?;
    let mut document: toml_edit::DocumentMut =
        text.parse().map_err(|error: toml_edit::TomlError| {
            AuthoringError::Project(format!("`{}`: {error}", manifest.display()))
        })?;
    let relative = member
        .strip_prefix(root)
        .unwrap_or(member)
        .to_string_lossy()
        .into_owned();
    let workspace = document["workspace"].as_table_like_mut().ok_or_else(|| {
        AuthoringError::Project(format!("`{}` has no [workspace]", manifest.display()))
    })?;
    // A workspace that lists no members has only its root package (and its path
    // dependencies); cargo would refuse a crate beneath it that it does not list.
    if !workspace.contains_key("members") {
        workspace.insert("members", toml_edit::value(toml_edit::Array::new()));
    }
    for key in ["members", "default-members"] {
        let Some(list) = workspace.get_mut(key).and_then(|item| item.as_array_mut()) else {
            continue;
        };
        if !list
            .iter()
            .any(|entry| entry.as_str() == Some(relative.as_str()))
        {
            list.push(relative.as_str());
            // Keep one entry per line when the list was written that way.
            if list.len() > 1
                && list.iter().nth(list.len() - 2).is_some_and(|entry| {
                    entry.decor().prefix().is_some_and(|prefix| {
                        prefix.as_str().is_some_and(|text| text.contains('\n'))
                    })
                })
            {
                let last = list.len() - 1;
                if let Some(entry) = list.get_mut(last) {
                    entry.decor_mut().set_prefix("\n    ");
                }
            }
        }
    }
    Ok(document.to_string())
}

/// A remediation's kebab-case name as the type its code exports: `restart-worker` ->
/// `RestartWorker`.
pub(crate) fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `{{key}}` in `template` replaced by each value.
pub(crate) fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_string();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

/// The common files (manifest, scenarios, README) for `request`.
pub(crate) fn common_files(
    request: &NewRemediation,
    component: &str,
    memory: &str,
    readme: &[(&str, &str)],
) -> Vec<(String, String)> {
    let values = [
        ("name", request.name.as_str()),
        ("risk", request.risk.as_str()),
        ("component", component),
        ("memory", memory),
        ("language", request.language.as_str()),
    ];
    let mut files = vec![(
        crate::manifest::MANIFEST_FILE.to_string(),
        render(MANIFEST, &values),
    )];
    for (file, text) in SCENARIOS {
        files.push((format!("scenarios/{file}"), text.to_string()));
    }
    let mut readme_values: Vec<(&str, &str)> = values.to_vec();
    readme_values.extend_from_slice(readme);
    files.push(("README.md".to_string(), render(README, &readme_values)));
    files
}

fn rust_files(request: &NewRemediation, home: &Home) -> Vec<(String, String)> {
    let name = &request.name;
    let crate_file = name.replace('-', "_");
    let type_name = type_name(name);
    let component = format!("{crate_file}.wasm");
    let mut files = common_files(
        request,
        &component,
        "32MiB",
        &[
            (
                "files_table",
                "| `Cargo.toml` | the crate: `cdylib` (the component) and `rlib` (native tests) |\n| `src/lib.rs` | the remediation: `plan`, `apply`, `verify`, `rollback` |",
            ),
            (
                "test_native",
                "cargo test                # the pure logic, natively (host calls return NotInSandbox)\n",
            ),
            (
                "sdk_docs",
                "The SDK's reference, offline: `cargo doc --open -p medic-guest-sdk`.\n",
            ),
        ],
    );
    files.push((
        "src/lib.rs".to_string(),
        render(RUST_LIB, &[("name", name), ("type_name", &type_name)]),
    ));
    files.push(("Cargo.toml".to_string(), cargo_toml(name, home)));
    if !matches!(home, Home::Medic(_)) {
        files.push((".gitignore".to_string(), "/target\n".to_string()));
        for (file, text) in RUST_SDK {
            files.push((
                format!("vendor/medic-guest-sdk/src/{file}"),
                text.to_string(),
            ));
        }
        files.push((
            "vendor/medic-guest-sdk/Cargo.toml".to_string(),
            format!(
                "# Vendored by `medic new` from medic {}: the SDK for contract {CONTRACT}.\n# Do not edit; a newer medic vendors a newer one.\n[package]\nname = \"medic-guest-sdk\"\nversion = \"{RUST_SDK_VERSION}\"\nedition = \"2024\"\ndescription = \"Write medic remediations in Rust: one trait, one macro, typed host capabilities\"\nlicense = \"Apache-2.0\"\npublish = false\n\n[dependencies]\nwit-bindgen = \"{WIT_BINDGEN_VERSION}\"\n",
                env!("CARGO_PKG_VERSION")
            ),
        ));
        files.push(("vendor/wit/medic.wit".to_string(), WIT.to_string()));
    }
    files.sort();
    files
}

fn cargo_toml(name: &str, home: &Home) -> String {
    let crate_type = "# A remediation is a WebAssembly component: `medic build` builds the `cdylib` for\n# wasm32-wasip2; the `rlib` lets a native `cargo test` test its logic.\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n";
    match home {
        Home::Medic(_) => format!(
            "[package]\nname = \"{name}\"\ndescription = \"medic remediation: {name}\"\nversion = \"0.1.0\"\nedition.workspace = true\nrust-version.workspace = true\nlicense.workspace = true\npublish.workspace = true\n\n{crate_type}\n[dependencies]\nmedic-guest-sdk.workspace = true\n\n[lints]\nworkspace = true\n"
        ),
        Home::Alone | Home::Other(_) => {
            let profile = if matches!(home, Home::Alone) {
                "\n# medic builds every remediation with this profile (small, stripped, no local paths, so\n# the sha256 is the same on every machine); `medic build` passes the same settings to\n# cargo, so editing them here changes nothing.\n[profile.guest]\ninherits = \"release\"\nopt-level = \"s\"\ncodegen-units = 1\ndebug = false\nstrip = true\nincremental = false\n"
            } else {
                ""
            };
            format!(
                "[package]\nname = \"{name}\"\ndescription = \"medic remediation: {name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n{crate_type}\n[dependencies]\nmedic-guest-sdk = {{ path = \"vendor/medic-guest-sdk\" }}\n{profile}"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_sdk_versions_are_the_workspaces() {
        let sdk = include_str!("../../../guest-sdk/Cargo.toml");
        assert!(
            sdk.contains(&format!("version = \"{RUST_SDK_VERSION}\"")),
            "RUST_SDK_VERSION is not guest-sdk's version"
        );
        let workspace = include_str!("../../../Cargo.toml");
        assert!(
            workspace.contains(&format!("wit-bindgen = \"{WIT_BINDGEN_VERSION}\"")),
            "WIT_BINDGEN_VERSION is not the workspace's wit-bindgen"
        );
        let files: Vec<&str> = RUST_SDK.iter().map(|(file, _)| *file).collect();
        let mut on_disk: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk/src"))
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        on_disk.sort();
        let mut vendored: Vec<String> = files.iter().map(|file| file.to_string()).collect();
        vendored.sort();
        assert_eq!(vendored, on_disk, "every SDK source file is vendored");
        assert!(
            WIT.contains(&format!("\npackage {CONTRACT};\n")),
            "CONTRACT is not the package wit/medic.wit declares"
        );
        let pinned = format!(
            "componentize-py=={}",
            super::super::python::COMPONENTIZE_PY_VERSION
        );
        for (file, text) in [
            ("scripts/setup", include_str!("../../../scripts/setup")),
            (
                "docs/authoring.md",
                include_str!("../../../docs/authoring.md"),
            ),
        ] {
            assert!(text.contains(&pinned), "{file} does not install {pinned}");
        }
    }

    #[test]
    fn type_names_are_the_kebab_name_in_camel_case() {
        assert_eq!(type_name("restart-worker"), "RestartWorker");
        assert_eq!(type_name("fix"), "Fix");
        assert_eq!(type_name("a1-b2"), "A1B2");
    }

    #[test]
    fn names_must_be_kebab_case() {
        for good in ["fix", "restart-queue-worker", "a1-b2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "test",
            "fn",
            "core",
            "Fix",
            "1fix",
            "fix-",
            "fix_it",
            "fix it",
            "../x",
            &"a".repeat(64),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_render_every_placeholder() {
        let request = NewRemediation {
            name: "my-fix".to_string(),
            risk: Risk::Low,
            language: Language::Rust,
            parent: PathBuf::from("/nowhere"),
        };
        for (file, text) in rust_files(&request, &Home::Alone) {
            if file.starts_with("vendor/") {
                continue;
            }
            assert!(!text.contains("{{"), "{file} keeps a placeholder:\n{text}");
        }
    }
}
