//! Finding a remediation by bundled name or directory, and loading it safely: manifest
//! parsed and checked, component hash verified against the manifest and any operator pin,
//! grants checked against the risk ceiling. Nothing runs until all of that passed.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::manifest::{self, Manifest, ManifestError, check_within_ceiling};

/// A remediation compiled into the binary (see `build.rs`).
#[derive(Debug)]
pub struct Bundled {
    /// Its name.
    pub name: &'static str,
    /// Its `remediation.toml`.
    pub manifest: &'static str,
    /// Its component.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// Where a loaded remediation came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// Compiled into medic.
    Bundled,
    /// A directory on disk.
    Directory(PathBuf),
}

/// A remediation ready to prepare: checked manifest and matching component bytes.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The checked manifest.
    pub manifest: Arc<Manifest>,
    /// The component, hashing to `manifest.sha256`.
    pub wasm: Cow<'static, [u8]>,
    /// Bundled or from disk.
    pub provenance: Provenance,
}

/// The bundled manifests, parsed.
pub fn bundled_manifests() -> Result<Vec<Manifest>, ManifestError> {
    BUNDLED
        .iter()
        .map(|bundled| manifest::parse_manifest(bundled.manifest, &bundled_path(bundled.name)))
        .collect()
}

fn bundled_path(name: &str) -> PathBuf {
    PathBuf::from(format!("<bundled>/{name}/{}", manifest::MANIFEST_FILE))
}

/// Load `name_or_path`: a directory (or its `remediation.toml`) when such a path exists,
/// else a bundled name. Checks the component hash, the operator's pins and the ceiling.
pub fn load_remediation(name_or_path: &str, config: &Config) -> Result<Loaded, ManifestError> {
    let path = Path::new(name_or_path);
    let loaded = if path.exists() {
        let manifest = manifest::load_manifest(path)?;
        let dir = manifest
            .file
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let component_path = dir.join(&manifest.component);
        let wasm = std::fs::read(&component_path).map_err(|source| ManifestError::Read {
            path: component_path.clone(),
            source,
        })?;
        manifest::check_component_hash(&manifest, &component_path, &wasm)?;
        Loaded {
            manifest: Arc::new(manifest),
            wasm: Cow::Owned(wasm),
            provenance: Provenance::Directory(dir),
        }
    } else {
        let bundled = BUNDLED
            .iter()
            .find(|bundled| bundled.name == name_or_path)
            .ok_or_else(|| ManifestError::UnknownRemediation {
                name: name_or_path.to_string(),
            })?;
        let manifest = manifest::parse_manifest(bundled.manifest, &bundled_path(bundled.name))?;
        manifest::check_component_hash(
            &manifest,
            &bundled_path(bundled.name).with_file_name(&manifest.component),
            bundled.wasm,
        )?;
        Loaded {
            manifest: Arc::new(manifest),
            wasm: Cow::Borrowed(bundled.wasm),
            provenance: Provenance::Bundled,
        }
    };
    check_pin(&loaded, config)?;
    check_within_ceiling(&loaded.manifest, &config.ceilings)?;
    Ok(loaded)
}

fn check_pin(loaded: &Loaded, config: &Config) -> Result<(), ManifestError> {
    let name = &loaded.manifest.name;
    match config.pins.get(name) {
        Some(pinned) if *pinned != loaded.manifest.sha256 => Err(ManifestError::PinMismatch {
            name: name.clone(),
            pinned: pinned.clone(),
            declared: loaded.manifest.sha256.clone(),
        }),
        None if config.require_pins && loaded.provenance != Provenance::Bundled => {
            Err(ManifestError::NotPinned { name: name.clone() })
        }
        _ => Ok(()),
    }
}
