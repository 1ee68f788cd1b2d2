//! Finding a remediation by bundled name or directory, and loading it safely: manifest
//! parsed and checked, component hash verified against the manifest and any operator pin,
//! grants checked against the risk ceiling and against medic's own state, every exec
//! grant's program checked and held open. Nothing runs until all of that passed.
//!
//! A bare name means a bundled remediation and is never shadowed by a directory of that
//! name in the working directory; a directory is named as a path (`./fix`, `/opt/fix`),
//! and a directory whose manifest claims a bundled name is refused.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::manifest::{self, Access, Manifest, ManifestError, Origin, check_within_ceiling};
use crate::nofollow::{self, OpenError};
use crate::process::{CheckedProgram, check_program};
use crate::sandbox::limits::MAX_COMPONENT_BYTES;
use crate::store::data_dir::Protected;

/// A remediation compiled into the binary (see `build.rs`).
#[derive(Debug)]
pub struct Bundled {
    /// Its name.
    pub name: &'static str,
    /// Its `remediation.toml`.
    pub manifest: &'static str,
    /// Its component.
    pub wasm: &'static [u8],
    /// Its scenarios for `medic test`: (file name, text).
    pub scenarios: &'static [(&'static str, &'static str)],
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

impl Provenance {
    /// How to name it again from anywhere: the bundled name, or the directory's canonical
    /// path (a relative one would name another directory from elsewhere).
    pub fn location(&self, name: &str) -> String {
        match self {
            Provenance::Bundled => name.to_string(),
            Provenance::Directory(dir) => std::fs::canonicalize(dir)
                .unwrap_or_else(|_| dir.clone())
                .display()
                .to_string(),
        }
    }
}

/// A remediation ready to prepare: checked manifest, matching component bytes, and the
/// programs its exec grants name, checked and held open.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The checked manifest.
    pub manifest: Arc<Manifest>,
    /// The component, hashing to `manifest.sha256`.
    pub wasm: Cow<'static, [u8]>,
    /// Bundled or from disk.
    pub provenance: Provenance,
    /// Each exec grant's program by its declared path; `None` when absent on this host.
    pub programs: BTreeMap<PathBuf, Option<CheckedProgram>>,
}

/// A remediation bound to one incident: see [`Loaded::bound`].
#[derive(Debug, Clone)]
pub struct Bound {
    /// The remediation with every grant template narrowed to its value.
    pub loaded: Loaded,
    /// The bound parameters, as the guest's incident carries them.
    pub params: BTreeMap<String, String>,
    /// Where each value came from.
    pub provenance: BTreeMap<String, crate::manifest::params::Provenance>,
    /// Each grant a template narrowed, as it now reads (`capabilities.exec[0]: ...`).
    pub narrowed: Vec<String>,
}

impl Loaded {
    /// This remediation for `incident`: its parameters bound (every incident parameter
    /// declared, every value matching its pattern, every required one present) and every
    /// grant template narrowed to its value. `incident` carries the values a plan chose.
    /// A root named by a parameter is then held to what a written one is at load: within
    /// the ceiling, clear of medic's state, reached without a symlink.
    pub fn bound(
        &self,
        incident: &crate::incident::Incident,
        ceilings: &manifest::Ceilings,
        protected: &Protected,
    ) -> Result<Bound, crate::manifest::params::ParamError> {
        self.bound_with(
            incident,
            &crate::manifest::params::BindSources::default(),
            ceilings,
            protected,
        )
    }

    /// [`Loaded::bound`], also drawing on the evidence's captures and the policy rule's
    /// params (`sources`), as a plan does.
    pub fn bound_with(
        &self,
        incident: &crate::incident::Incident,
        sources: &crate::manifest::params::BindSources<'_>,
        ceilings: &manifest::Ceilings,
        protected: &Protected,
    ) -> Result<Bound, crate::manifest::params::ParamError> {
        use crate::manifest::params;
        let bound = params::bind(
            &self.manifest.name,
            &self.manifest.params,
            incident,
            sources,
        )?;
        let provenance = bound
            .iter()
            .map(|(name, param)| (name.clone(), param.source.clone()))
            .collect();
        let values = params::values(&bound);
        let mut manifest = (*self.manifest).clone();
        manifest.grants = manifest
            .grants
            .narrowed(&values)
            .map_err(params::ParamError::Narrowed)?;
        if self.manifest.grants.fs.iter().any(|fs| fs.param.is_some()) {
            // A parameter names a directory inside what the ceiling grants, never a whole
            // granted root or one above it: a value from a log line (`/tmp`) must not hand a
            // remediation everything the operator allowed its level.
            let ceiling = ceilings.for_risk(self.manifest.risk);
            for template in self
                .manifest
                .grants
                .fs
                .iter()
                .filter(|fs| fs.param.is_some())
            {
                let name = template.param.as_deref().unwrap_or_default();
                let Some(value) = values.get(name) else {
                    continue;
                };
                let path = std::path::Path::new(value.trim_end_matches('/'));
                if let Some(root) = ceiling.grants.fs.iter().find(|root| {
                    root.path.starts_with(path) && !(root.bind_whole && root.path == path)
                }) {
                    return Err(params::ParamError::Narrowed(format!(
                        "parameter `{name}` = `{}` names the whole root `{}` the {} ceiling grants (or one above it); it must name a directory inside one",
                        crate::text::escape_control(value),
                        root.path.display(),
                        self.manifest.risk.as_str()
                    )));
                }
            }
            let refused = |error: ManifestError| params::ParamError::Narrowed(error.to_string());
            manifest::check_within_ceiling(&manifest, ceilings).map_err(refused)?;
            check_roots(&manifest, protected).map_err(refused)?;
        }
        let narrowed = self
            .manifest
            .grants
            .exec
            .iter()
            .zip(&manifest.grants.exec)
            .filter(|(template, _)| template.args.iter().any(|arg| arg.param.is_some()))
            .map(|(_, exec)| format!("{}: {}", exec.origin.field, exec.describe()))
            .chain(
                self.manifest
                    .grants
                    .fs
                    .iter()
                    .filter(|fs| fs.param.is_some())
                    .filter_map(|template| {
                        let fs = manifest
                            .grants
                            .fs
                            .iter()
                            .find(|fs| fs.origin.field == template.origin.field)?;
                        Some(format!(
                            "{}: {} ({})",
                            fs.origin.field,
                            fs.path.display(),
                            fs.access.as_str()
                        ))
                    }),
            )
            .collect();
        Ok(Bound {
            loaded: Loaded {
                manifest: Arc::new(manifest),
                ..self.clone()
            },
            params: values,
            provenance,
            narrowed,
        })
    }
}

/// The bundled manifests, parsed.
pub fn bundled_manifests() -> Result<Vec<Manifest>, ManifestError> {
    BUNDLED
        .iter()
        .map(|bundled| manifest::parse_manifest(bundled.manifest, &bundled_path(bundled.name)))
        .collect()
}

/// The bundled remediation `name`, if there is one.
pub fn bundled(name: &str) -> Option<&'static Bundled> {
    BUNDLED.iter().find(|bundled| bundled.name == name)
}

fn bundled_path(name: &str) -> PathBuf {
    PathBuf::from(format!("<bundled>/{name}/{}", manifest::MANIFEST_FILE))
}

/// True when `name_or_path` names a directory (it holds a `/` or starts with `.`) rather
/// than a bundled remediation.
pub fn is_path(name_or_path: &str) -> bool {
    name_or_path.contains('/') || name_or_path.starts_with('.')
}

/// Load `name_or_path`: a bundled name, or a directory (or its `remediation.toml`) named
/// as a path. Checks the component hash, the operator's pins, the ceiling, that no granted
/// root reaches medic's own state, and every granted program.
pub fn load_remediation(
    name_or_path: &str,
    config: &Config,
    protected: &Protected,
) -> Result<Loaded, ManifestError> {
    load_for(name_or_path, config, protected, Purpose::Run)
}

/// What a remediation is loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// To run on this host: every check.
    Run,
    /// To run against a `medic test` scenario's scripted world, which touches nothing on
    /// this host: the manifest, component hash, ceiling, roots and the programs present
    /// here are checked as for a run; pins and signatures are not required, a directory
    /// may carry a bundled name (an author testing a change to one), and secrets come
    /// from the scenario.
    Test,
}

/// Load `name_or_path` for `purpose`; see [`load_remediation`] and [`Purpose`].
pub fn load_for(
    name_or_path: &str,
    config: &Config,
    protected: &Protected,
    purpose: Purpose,
) -> Result<Loaded, ManifestError> {
    let (manifest, wasm, provenance) = if is_path(name_or_path) {
        load_directory(Path::new(name_or_path), purpose)?
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
        (manifest, Cow::Borrowed(bundled.wasm), Provenance::Bundled)
    };
    if purpose == Purpose::Test {
        check_within_ceiling(&manifest, &config.ceilings)?;
        check_roots(&manifest, protected)?;
        // What `medic run` would refuse about a program present here, a test refuses too
        // (a launcher, a script not marked interpreted); the scenario answers for it.
        let programs = check_programs(&manifest, config)?;
        return Ok(Loaded {
            manifest: Arc::new(manifest),
            wasm,
            provenance,
            programs,
        });
    }
    check_pin(&manifest, &provenance, config)?;
    if config.signatures.require
        && let Provenance::Directory(dir) = &provenance
    {
        crate::manifest::signature::verify_signature(dir, &manifest, &config.signatures.trusted)?;
    }
    check_within_ceiling(&manifest, &config.ceilings)?;
    for (origin, handle) in manifest.secret_uses() {
        if !config.secrets.contains_key(handle) {
            return Err(ManifestError::Invalid {
                origin: origin.clone(),
                message: format!(
                    "secret `{handle}` is not configured: the operator maps it in medic.toml `[secrets.{handle}]`"
                ),
            });
        }
    }
    check_roots(&manifest, protected)?;
    let programs = check_programs(&manifest, config)?;
    Ok(Loaded {
        manifest: Arc::new(manifest),
        wasm,
        provenance,
        programs,
    })
}

fn load_directory(
    path: &Path,
    purpose: Purpose,
) -> Result<(Manifest, Cow<'static, [u8]>, Provenance), ManifestError> {
    let file = if path.is_dir() {
        path.join(manifest::MANIFEST_FILE)
    } else {
        path.to_path_buf()
    };
    let read_error = |path: &Path, error: OpenError| ManifestError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    };
    let manifest = manifest::load_manifest(&file)?;
    if purpose == Purpose::Run && BUNDLED.iter().any(|bundled| bundled.name == manifest.name) {
        return Err(ManifestError::ShadowsBundled {
            name: manifest.name.clone(),
            path: file,
        });
    }
    let dir = file
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let component_path = dir.join(&manifest.component);
    let wasm = nofollow::read_regular_file(&component_path, MAX_COMPONENT_BYTES)
        .map_err(|error| read_error(&component_path, error))?;
    manifest::check_component_hash(&manifest, &component_path, &wasm)?;
    Ok((manifest, Cow::Owned(wasm), Provenance::Directory(dir)))
}

fn check_pin(
    manifest: &Manifest,
    provenance: &Provenance,
    config: &Config,
) -> Result<(), ManifestError> {
    let name = &manifest.name;
    match config.pins.get(name) {
        Some(pinned) if *pinned != manifest.sha256 => Err(ManifestError::PinMismatch {
            name: name.clone(),
            pinned: pinned.clone(),
            declared: manifest.sha256.clone(),
        }),
        None if config.require_pins && *provenance != Provenance::Bundled => {
            Err(ManifestError::NotPinned { name: name.clone() })
        }
        _ => Ok(()),
    }
}

/// No granted root may be, contain or lie inside medic's state, nor be reached through a
/// symlink (every call opens it without following one, so such a grant could never work).
fn check_roots(manifest: &Manifest, protected: &Protected) -> Result<(), ManifestError> {
    // A root named by a parameter is checked once it is bound (`Loaded::bound`).
    for grant in manifest
        .grants
        .fs
        .iter()
        .filter(|grant| grant.param.is_none())
    {
        if let Some((relation, state)) = protected.relation_of_path(&grant.path) {
            return Err(ManifestError::Unsafe {
                origin: grant.origin.clone(),
                message: format!(
                    "`{}` {} medic's own state `{}`; no remediation may reach it",
                    grant.path.display(),
                    relation.as_str(),
                    state.display()
                ),
            });
        }
        if let Err(OpenError::Symlink { path }) = nofollow::open_dir(&grant.path) {
            return Err(ManifestError::Unsafe {
                origin: grant.origin.clone(),
                message: format!(
                    "`{}` is reached through the symlink `{}`; grant the directory it points to",
                    grant.path.display(),
                    path.display()
                ),
            });
        }
    }
    Ok(())
}

/// Check every granted program against every read-write root any manifest may be granted.
fn check_programs(
    manifest: &Manifest,
    config: &Config,
) -> Result<BTreeMap<PathBuf, Option<CheckedProgram>>, ManifestError> {
    let writable: Vec<PathBuf> = manifest
        .grants
        .fs
        .iter()
        .chain(
            [
                &config.ceilings.low,
                &config.ceilings.medium,
                &config.ceilings.high,
            ]
            .into_iter()
            .flat_map(|ceiling| ceiling.grants.fs.iter()),
        )
        .filter(|grant| grant.access == Access::ReadWrite)
        .map(|grant| grant.path.clone())
        .collect();
    let ceiling = config.ceilings.for_risk(manifest.risk);
    let mut programs = BTreeMap::new();
    for grant in &manifest.grants.exec {
        if programs.contains_key(&grant.program) {
            continue;
        }
        let unsafe_program = |message: String| ManifestError::Unsafe {
            origin: Origin {
                field: format!("{}.program", grant.origin.field),
                ..grant.origin.clone()
            },
            message,
        };
        let checked = check_program(&grant.program, &writable)
            .map_err(|error| unsafe_program(error.to_string()))?;
        if let Some(checked) = &checked
            && let crate::process::ProgramKind::Script { interpreter, .. } = &checked.kind
        {
            let allowed = ceiling
                .grants
                .exec
                .iter()
                .any(|entry| entry.program == grant.program && entry.interpreted);
            if !(grant.interpreted && allowed) {
                return Err(unsafe_program(format!(
                    "`{}` is a script run by `{}`; both the manifest's grant and the operator's `{}` ceiling entry must say `interpreted = true` to run a program an interpreter runs",
                    checked.canonical.display(),
                    interpreter.canonical.display(),
                    manifest.risk.as_str()
                )));
            }
        }
        programs.insert(grant.program.clone(), checked);
    }
    Ok(programs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::data_dir::DataDir;

    fn manifest_granting(root: &Path) -> Manifest {
        let text = format!(
            "name = \"t\"\nversion = \"0.1.0\"\ndescription = \"t\"\nrisk = \"low\"\ncomponent = \"t.wasm\"\nsha256 = \"{}\"\n[[capabilities.fs]]\npath = {:?}\naccess = \"read\"\n",
            "0".repeat(64),
            root.display().to_string()
        );
        manifest::parse_manifest(&text, Path::new("t/remediation.toml")).unwrap()
    }

    #[test]
    fn a_manifest_root_that_reaches_medics_state_is_refused_however_spelled() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(&tmp.path().join("state/data")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("state"), tmp.path().join("alias")).unwrap();
        std::fs::create_dir_all(tmp.path().join("elsewhere")).unwrap();
        for (root, expected) in [
            (tmp.path().join("state"), "contains medic's own state"),
            (tmp.path().join("state/data"), "is medic's own state"),
            (
                tmp.path().join("state/data/compiled"),
                "lies inside medic's own state",
            ),
            (tmp.path().join("alias"), "contains medic's own state"),
        ] {
            let message = check_roots(&manifest_granting(&root), dir.protected())
                .unwrap_err()
                .to_string();
            assert!(message.contains(expected), "{}: {message}", root.display());
            assert!(message.contains("capabilities.fs[0]"), "{message}");
        }
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), tmp.path().join("link")).unwrap();
        let message = check_roots(
            &manifest_granting(&tmp.path().join("link")),
            dir.protected(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            message.contains("is reached through the symlink"),
            "{message}"
        );
        assert!(
            check_roots(
                &manifest_granting(&tmp.path().join("elsewhere")),
                dir.protected()
            )
            .is_ok()
        );
    }
}
