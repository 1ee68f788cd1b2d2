//! The wasmtime engine medic runs every component on, its epoch ticker, and the cache of
//! compiled components.
//!
//! One engine per process: Cranelift, epoch interruption (ticked every `EPOCH_TICK` by one
//! background thread), `MAX_WASM_STACK`. Compiling runs on its own thread and medic stops
//! waiting after `COMPILE_DEADLINE`.
//!
//! Loading compiled code is loading native code, so the cache is authenticated, not only
//! checksummed: each entry under `<data_dir>/compiled/` carries an HMAC-SHA256, under a key
//! of the data directory's own (`keys/cache.key`, mode 0600), over the artifact, the
//! component's sha256 and the engine's settings. An entry whose tag does not verify (written
//! by anyone but medic, truncated, swapped between components, or from another engine) is
//! compiled again and replaced: medic loads native code only if it wrote it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use super::SandboxError;
use super::limits::{COMPILE_DEADLINE, EPOCH_TICK, MAX_COMPONENT_BYTES, MAX_WASM_STACK};
use crate::nofollow;

/// The first bytes of every cache entry, naming its format.
const MAGIC: &[u8; 8] = b"MEDICCW1";
/// Length of the HMAC-SHA256 tag after the magic.
const TAG_BYTES: usize = 32;
/// How often a compile in progress looks whether medic must stop.
const STOP_CHECK: std::time::Duration = std::time::Duration::from_millis(50);
/// Largest cache entry medic reads: compiled code is a few times the component's size.
const MAX_ENTRY_BYTES: u64 = 8 * MAX_COMPONENT_BYTES;

/// Whether a component came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheUse {
    /// Compiled now (and stored, when a cache directory is set).
    Compiled,
    /// Loaded from the cache.
    Cached,
}

/// Where compiled components are kept and the key that authenticates them.
#[derive(Clone)]
pub struct CacheKey {
    /// The cache directory (inside the data directory).
    pub dir: PathBuf,
    /// The data directory's cache key.
    pub key: [u8; 32],
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheKey")
            .field("dir", &self.dir)
            .field("key", &"[secret]")
            .finish()
    }
}

/// The engine and where compiled components are kept.
pub(crate) struct MedicEngine {
    pub(crate) engine: Engine,
    cache: Option<CacheKey>,
    settings_hash: String,
}

impl MedicEngine {
    pub(crate) fn new(cache: Option<CacheKey>) -> Result<Self, SandboxError> {
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
            cache,
            settings_hash,
        })
    }

    /// Compile `wasm` (whose digest the caller has checked against its manifest), or load it
    /// from the cache when an authentic entry is there.
    pub(crate) fn compile(
        &self,
        wasm: &[u8],
        sha256: &str,
        stop: &crate::stop::StopSignal,
    ) -> Result<(Component, CacheUse), SandboxError> {
        let entry = self.cache.as_ref().map(|cache| {
            (
                cache,
                cache
                    .dir
                    .join(format!("{sha256}-{}.cwasm", self.settings_hash)),
            )
        });
        if let Some((cache, path)) = &entry
            && let Some(component) = self.load_cached(cache, path, sha256)
        {
            return Ok((component, CacheUse::Cached));
        }
        let started = Instant::now();
        let component = self.compile_with_deadline(wasm, stop)?;
        tracing::debug!(elapsed = ?started.elapsed(), "compiled component");
        if let Some((cache, path)) = &entry
            && let Err(error) = self.store(cache, path, sha256, &component)
        {
            tracing::warn!(path = %path.display(), "cannot cache compiled component: {error}");
        }
        Ok((component, CacheUse::Compiled))
    }

    /// Compile on a thread of its own, off the async runtime, giving up after
    /// `COMPILE_DEADLINE` or when medic must stop (the thread then finishes in the
    /// background; its result is dropped).
    fn compile_with_deadline(
        &self,
        wasm: &[u8],
        stop: &crate::stop::StopSignal,
    ) -> Result<Component, SandboxError> {
        let (send, receive) = mpsc::channel();
        let engine = self.engine.clone();
        let bytes = wasm.to_vec();
        std::thread::Builder::new()
            .name("medic-compile".to_string())
            .spawn(move || {
                let _ = send.send(Component::new(&engine, &bytes));
            })
            .map_err(|error| SandboxError::Engine(format!("cannot start compiling: {error}")))?;
        let deadline = Instant::now() + COMPILE_DEADLINE;
        loop {
            if let Some(signal) = stop.raised() {
                return Err(SandboxError::Interrupted(signal));
            }
            match receive.recv_timeout(STOP_CHECK) {
                Ok(result) => {
                    return result.map_err(|error| SandboxError::Compile(format!("{error:#}")));
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(SandboxError::Compile(format!(
                        "compiling took longer than {}",
                        humantime::format_duration(COMPILE_DEADLINE)
                    )));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(SandboxError::Compile(
                        "the compiler thread stopped without a result".to_string(),
                    ));
                }
            }
        }
    }

    fn tag(&self, cache: &CacheKey, sha256: &str, artifact: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&cache.key).expect("HMAC takes keys of any length");
        mac.update(b"medic compiled component v1\0");
        mac.update(sha256.as_bytes());
        mac.update(b"\0");
        mac.update(self.settings_hash.as_bytes());
        mac.update(b"\0");
        mac.update(artifact);
        mac
    }

    fn load_cached(&self, cache: &CacheKey, path: &Path, sha256: &str) -> Option<Component> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(path)
            .ok()?;
        if let Err(error) = nofollow::check_regular(std::os::fd::AsFd::as_fd(&file), path) {
            tracing::warn!("compiled-component cache: {error}; compiling again");
            return None;
        }
        let bytes = match nofollow::read_capped(file, path, MAX_ENTRY_BYTES) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!("compiled-component cache: {error}; compiling again");
                return None;
            }
        };
        let authentic = bytes.len() > MAGIC.len() + TAG_BYTES
            && bytes.starts_with(MAGIC)
            && self
                .tag(cache, sha256, &bytes[MAGIC.len() + TAG_BYTES..])
                .verify_slice(&bytes[MAGIC.len()..MAGIC.len() + TAG_BYTES])
                .is_ok();
        if !authentic {
            tracing::warn!(path = %path.display(), "compiled component is not one medic wrote (its tag does not verify); compiling again");
            return None;
        }
        let artifact = &bytes[MAGIC.len() + TAG_BYTES..];
        // SAFETY: `Component::deserialize` trusts its input to be wasmtime's own output for
        // this engine's settings. These bytes were read whole into memory (so later changes
        // to the file cannot affect them) and carry an HMAC-SHA256 tag, under a key only
        // medic's user can read, over exactly these bytes, this component's sha256 and this
        // engine's settings: only `store` below, run by medic on a component it compiled
        // with this engine, can have produced them. Unsafe is unavoidable: wasmtime offers
        // no checked way to load precompiled code, and compiling on every run costs ~60 ms.
        #[expect(
            unsafe_code,
            reason = "loading precompiled code is unsafe by nature; see SAFETY above"
        )]
        let component = unsafe { Component::deserialize(&self.engine, artifact) };
        component
            .map_err(|error| tracing::warn!(path = %path.display(), "cannot load compiled component: {error:#}"))
            .ok()
    }

    fn store(
        &self,
        cache: &CacheKey,
        path: &Path,
        sha256: &str,
        component: &Component,
    ) -> Result<(), String> {
        let artifact = component
            .serialize()
            .map_err(|error| format!("{error:#}"))?;
        let tag = self.tag(cache, sha256, &artifact).finalize().into_bytes();
        {
            use std::os::unix::fs::DirBuilderExt;
            match std::fs::DirBuilder::new().mode(0o700).create(&cache.dir) {
                Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(format!("{}: {error}", cache.dir.display()));
                }
                _ => {}
            }
        }
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&temporary);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&temporary)
            .map_err(|error| format!("{}: {error}", temporary.display()))?;
        out.write_all(MAGIC)
            .and_then(|()| out.write_all(&tag))
            .and_then(|()| out.write_all(&artifact))
            .map_err(|error| format!("{}: {error}", temporary.display()))?;
        drop(out);
        std::fs::rename(&temporary, path).map_err(|error| format!("{}: {error}", path.display()))
    }
}
