//! The wasmtime engine medic runs every component on, its epoch ticker, and the cache of
//! compiled components.
//!
//! One engine per process: Cranelift, epoch interruption (ticked every `EPOCH_TICK` by one
//! background thread), `MAX_WASM_STACK`. Compiled components are cached in
//! `<data_dir>/compiled/` under the component's sha256 and a hash of the engine's
//! settings, so a second run does not recompile; a stale or damaged entry is recompiled.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use super::SandboxError;
use super::limits::{EPOCH_TICK, MAX_WASM_STACK};

/// Whether a component came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheUse {
    /// Compiled now (and stored, when a cache directory is set).
    Compiled,
    /// Loaded from the cache.
    Cached,
}

/// The engine and where compiled components are kept.
pub(crate) struct MedicEngine {
    pub(crate) engine: Engine,
    cache_dir: Option<PathBuf>,
    settings_hash: String,
}

impl MedicEngine {
    pub(crate) fn new(cache_dir: Option<PathBuf>) -> Result<Self, SandboxError> {
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .wasm_component_model(true);
        let engine =
            Engine::new(&config).map_err(|error| SandboxError::Engine(format!("{error:#}")))?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("medic-epoch".to_string())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .map_err(|error| {
                SandboxError::Engine(format!("cannot start the epoch thread: {error}"))
            })?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let settings_hash = format!("{:016x}", hasher.finish());
        Ok(MedicEngine {
            engine,
            cache_dir,
            settings_hash,
        })
    }

    /// Compile `wasm` (whose digest the caller has checked against its manifest), or load it
    /// from the cache.
    pub(crate) fn compile(
        &self,
        wasm: &[u8],
        sha256: &str,
    ) -> Result<(Component, CacheUse), SandboxError> {
        let cache_path = self
            .cache_dir
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}-{}.cwasm", self.settings_hash)));
        if let Some(path) = &cache_path
            && let Some(component) = self.load_cached(path)
        {
            return Ok((component, CacheUse::Cached));
        }
        let started = Instant::now();
        let component = Component::new(&self.engine, wasm)
            .map_err(|error| SandboxError::Compile(format!("{error:#}")))?;
        tracing::debug!(elapsed = ?started.elapsed(), "compiled component");
        if let Some(path) = &cache_path
            && let Err(error) = self.store(path, &component)
        {
            tracing::warn!(path = %path.display(), "cannot cache compiled component: {error}");
        }
        Ok((component, CacheUse::Compiled))
    }

    fn load_cached(&self, path: &PathBuf) -> Option<Component> {
        let bytes = std::fs::read(path).ok()?;
        let digest = std::fs::read_to_string(path.with_extension("sha256")).ok()?;
        if hex::encode(Sha256::digest(&bytes)) != digest.trim() {
            tracing::warn!(path = %path.display(), "compiled component does not match its digest; recompiling");
            return None;
        }
        // SAFETY: `Component::deserialize` trusts its input to be wasmtime's own output. The
        // bytes come from medic's private data directory (created 0700), were written by
        // `store` below from a component compiled by this engine configuration (the file
        // name carries the engine's compatibility hash), and were just checked against the
        // digest written with them, so they are not truncated or swapped. They are read into
        // memory first, so later changes to the file cannot affect the loaded code.
        #[expect(
            unsafe_code,
            reason = "loading precompiled code is unsafe by nature; see SAFETY above"
        )]
        let component = unsafe { Component::deserialize(&self.engine, &bytes) };
        component.map_err(|error| tracing::warn!(path = %path.display(), "cannot load compiled component: {error:#}")).ok()
    }

    fn store(&self, path: &PathBuf, component: &Component) -> Result<(), String> {
        let bytes = component
            .serialize()
            .map_err(|error| format!("{error:#}"))?;
        let dir = path.parent().expect("cache paths have a parent");
        std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, &bytes)
            .map_err(|error| format!("{}: {error}", temporary.display()))?;
        std::fs::write(
            path.with_extension("sha256"),
            hex::encode(Sha256::digest(&bytes)),
        )
        .map_err(|error| format!("{error}"))?;
        std::fs::rename(&temporary, path).map_err(|error| format!("{}: {error}", path.display()))
    }
}
