//! Signatures on remediations: a reviewer's ed25519 signature over a remediation's
//! manifest and its component, kept beside them in `remediation.sig`, so an operator can
//! require (`[signatures] require = true` in medic.toml) that only remediations a trusted
//! key signed run on this host.
//!
//! The signed message names the remediation and its version, and holds the sha256 of
//! the manifest's exact text (every grant, parameter and limit) and the component's
//! sha256: change either, and the signature no longer verifies. Keys are written as
//! `ed25519:` and the base64 of the 32-byte public key; a signing key file holds
//! `ed25519-secret:` and the base64 of the 32-byte seed, readable by its owner only.
//!
//! Verification (`verify_signature`) is called by `catalog.rs` when the operator
//! requires signatures, for every remediation loaded from a directory; a bundled
//! remediation is part of medic's own binary and needs none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::Manifest;

/// The signature's file name, beside `remediation.toml`.
pub const SIGNATURE_FILE: &str = "remediation.sig";
/// How a public key is written.
const PUBLIC_PREFIX: &str = "ed25519:";
/// How a signing key file starts.
const SECRET_PREFIX: &str = "ed25519-secret:";
/// Largest signature or key file medic reads.
const MAX_FILE_BYTES: u64 = 64 << 10;

/// Why a remediation's signature could not be made or does not hold.
#[derive(Debug, Error)]
pub enum SignatureError {
    /// A file could not be read or written.
    #[error("`{path}`: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A key is not written as medic writes keys.
    #[error("{what}: {message}")]
    BadKey {
        /// Which key, and where.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The signing key file can be read by someone else.
    #[error("signing key `{path}` is readable by group or others (mode {mode:o}); `chmod 600` it")]
    ExposedKey {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// There is no signature, and one is required.
    #[error(
        "remediation `{name}` is not signed (no `{path}`), and medic.toml requires signatures (`[signatures] require = true`): a reviewer signs it with `medic manifest sign DIR --key KEY`"
    )]
    Unsigned {
        /// The remediation.
        name: String,
        /// Where the signature should be.
        path: PathBuf,
    },
    /// The signature does not verify, or not by a trusted key.
    #[error("remediation `{name}`: signature `{path}` refused: {reason}")]
    Refused {
        /// The remediation.
        name: String,
        /// The signature file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// `remediation.sig` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// Always 1.
    pub version: u32,
    /// The public key that signed, `ed25519:...`.
    pub key: String,
    /// The base64 signature over [`signed_message`].
    pub signature: String,
    /// The remediation signed.
    pub name: String,
    /// Its version.
    pub remediation_version: String,
    /// The sha256 of the manifest's text.
    pub manifest_sha256: String,
    /// The component's sha256.
    pub component_sha256: String,
}

/// The bytes a signature covers.
pub fn signed_message(
    name: &str,
    version: &str,
    manifest_sha256: &str,
    component_sha256: &str,
) -> Vec<u8> {
    format!(
        "medic remediation signature v1\nname {name}\nversion {version}\nmanifest sha256 {manifest_sha256}\ncomponent sha256 {component_sha256}\n"
    )
    .into_bytes()
}

/// A public key written `ed25519:BASE64`.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let encoded = text
        .trim()
        .strip_prefix(PUBLIC_PREFIX)
        .ok_or_else(|| format!("must start with `{PUBLIC_PREFIX}`, got `{text}`"))?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|error| format!("is not base64: {error}"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| "must hold 32 bytes".to_string())?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|error| format!("is not an ed25519 key: {error}"))?;
    // A key of small order (the identity point, say) accepts signatures anyone can make:
    // trusting it would trust everyone.
    if key.is_weak() {
        return Err("is a weak key (of small order), under which anyone can sign".to_string());
    }
    Ok(key)
}

/// How a public key is written.
pub fn show_public_key(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}", STANDARD.encode(key.as_bytes()))
}

/// A new signing key written to `path` (owner-only, never over an existing file); returns
/// its public key.
pub fn generate_key(path: &Path) -> Result<VerifyingKey, SignatureError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|error| SignatureError::Io {
        path: path.to_path_buf(),
        reason: format!("no randomness: {error}"),
    })?;
    let key = SigningKey::from_bytes(&seed);
    let io = |error: std::io::Error| SignatureError::Io {
        path: path.to_path_buf(),
        reason: error.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(format!("{SECRET_PREFIX}{}\n", STANDARD.encode(seed)).as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key.verifying_key())
}

/// The signing key in `path`, refused when someone else could read it.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, SignatureError> {
    use std::os::fd::AsFd as _;
    let io = |reason: String| SignatureError::Io {
        path: path.to_path_buf(),
        reason,
    };
    let file = crate::nofollow::open_regular_file(path).map_err(|error| io(error.to_string()))?;
    let stat = nix::sys::stat::fstat(file.as_fd()).map_err(|errno| io(errno.to_string()))?;
    let mode = stat.st_mode & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SignatureError::ExposedKey {
            path: path.to_path_buf(),
            mode,
        });
    }
    let bytes = crate::nofollow::read_capped(file, path, MAX_FILE_BYTES)
        .map_err(|error| io(error.to_string()))?;
    let text = String::from_utf8_lossy(&bytes);
    let bad = |message: &str| SignatureError::BadKey {
        what: format!("signing key `{}`", path.display()),
        message: message.to_string(),
    };
    let encoded = text
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| bad("is not a key `medic manifest keygen` wrote"))?;
    let seed: [u8; 32] = STANDARD
        .decode(encoded)
        .map_err(|_| bad("is not base64"))?
        .try_into()
        .map_err(|_| bad("must hold 32 bytes"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Sign `manifest` (whose component hash was checked) with `key`; the file's contents.
pub fn sign(manifest: &Manifest, key: &SigningKey) -> SignatureFile {
    let message = signed_message(
        &manifest.name,
        &manifest.version,
        &manifest.text_sha256,
        &manifest.sha256,
    );
    SignatureFile {
        version: 1,
        key: show_public_key(&key.verifying_key()),
        signature: STANDARD.encode(key.sign(&message).to_bytes()),
        name: manifest.name.clone(),
        remediation_version: manifest.version.clone(),
        manifest_sha256: manifest.text_sha256.clone(),
        component_sha256: manifest.sha256.clone(),
    }
}

/// The signature file's text.
pub fn render(signature: &SignatureFile) -> String {
    format!(
        "# A reviewer's signature over this remediation's manifest and component (`medic manifest sign`).\n{}",
        toml::to_string(signature).expect("a signature serialises")
    )
}

/// Who signed `manifest` (from `dir`), by the name the operator gave the key in
/// `trusted`; refused when unsigned, tampered with, or signed by a key not in `trusted`.
pub fn verify_signature(
    dir: &Path,
    manifest: &Manifest,
    trusted: &BTreeMap<String, VerifyingKey>,
) -> Result<String, SignatureError> {
    let path = dir.join(SIGNATURE_FILE);
    let refused = |reason: String| SignatureError::Refused {
        name: manifest.name.clone(),
        path: path.clone(),
        reason,
    };
    let text = match crate::nofollow::read_folder_text(&path, MAX_FILE_BYTES) {
        Ok(text) => text,
        Err(crate::nofollow::OpenError::NotFound { .. }) => {
            return Err(SignatureError::Unsigned {
                name: manifest.name.clone(),
                path,
            });
        }
        Err(error) => return Err(refused(error.to_string())),
    };
    let file: SignatureFile =
        toml::from_str(&text).map_err(|error| refused(crate::text::toml_error(&text, &error)))?;
    if file.version != 1 {
        return Err(refused(format!(
            "version {} is not one medic knows",
            file.version
        )));
    }
    let key = parse_public_key(&file.key).map_err(|message| refused(format!("key {message}")))?;
    let Some((signer, _)) = trusted.iter().find(|(_, trusted)| **trusted == key) else {
        return Err(refused(format!(
            "signed by `{}`, which is not in medic.toml `[signatures] trusted`",
            file.key
        )));
    };
    if file.manifest_sha256 != manifest.text_sha256 {
        return Err(refused(format!(
            "the manifest changed since it was signed (signed sha256 {}, now {})",
            file.manifest_sha256, manifest.text_sha256
        )));
    }
    if file.component_sha256 != manifest.sha256 {
        return Err(refused(format!(
            "the component changed since it was signed (signed sha256 {}, now {})",
            file.component_sha256, manifest.sha256
        )));
    }
    let signature: [u8; 64] = STANDARD
        .decode(&file.signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| refused("the signature is not 64 bytes of base64".to_string()))?;
    let message = signed_message(
        &manifest.name,
        &manifest.version,
        &manifest.text_sha256,
        &manifest.sha256,
    );
    // Strict: no small-order keys or signature components, no malleable signatures.
    key.verify_strict(&message, &Signature::from_bytes(&signature))
        .map_err(|_| refused(format!("it does not verify under `{}`", file.key)))?;
    Ok(signer.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Manifest {
        super::super::parse_manifest(text, Path::new("x/remediation.toml")).unwrap()
    }

    const TEXT: &str = "name = \"fix\"\nversion = \"0.1.0\"\ndescription = \"d\"\nrisk = \"low\"\ncomponent = \"fix.wasm\"\nsha256 = \"1111111111111111111111111111111111111111111111111111111111111111\"\n";

    #[test]
    fn a_signature_holds_only_for_the_signed_manifest_component_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("key");
        let public = generate_key(&key_path).unwrap();
        assert!(
            matches!(generate_key(&key_path), Err(SignatureError::Io { .. })),
            "never overwrites a key"
        );
        let key = load_signing_key(&key_path).unwrap();
        let signed = manifest(TEXT);
        std::fs::write(
            dir.path().join(SIGNATURE_FILE),
            render(&sign(&signed, &key)),
        )
        .unwrap();
        let trusted = BTreeMap::from([("reviewers".to_string(), public)]);
        assert_eq!(
            verify_signature(dir.path(), &signed, &trusted).unwrap(),
            "reviewers"
        );

        let edited = manifest(&TEXT.replace("description = \"d\"", "description = \"e\""));
        let message = verify_signature(dir.path(), &edited, &trusted)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("the manifest changed since it was signed"),
            "{message}"
        );

        let stranger = SigningKey::from_bytes(&[7; 32]).verifying_key();
        let untrusted = BTreeMap::from([("other".to_string(), stranger)]);
        let message = verify_signature(dir.path(), &signed, &untrusted)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("is not in medic.toml `[signatures] trusted`"),
            "{message}"
        );

        // A forged file: the right hashes, another key's signature claimed as ours.
        let mut forged = sign(&signed, &SigningKey::from_bytes(&[9; 32]));
        forged.key = show_public_key(&public);
        std::fs::write(dir.path().join(SIGNATURE_FILE), render(&forged)).unwrap();
        let message = verify_signature(dir.path(), &signed, &trusted)
            .unwrap_err()
            .to_string();
        assert!(message.contains("does not verify"), "{message}");

        std::fs::remove_file(dir.path().join(SIGNATURE_FILE)).unwrap();
        assert!(matches!(
            verify_signature(dir.path(), &signed, &trusted),
            Err(SignatureError::Unsigned { .. })
        ));
    }

    #[test]
    fn a_signing_key_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        generate_key(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_signing_key(&path),
            Err(SignatureError::ExposedKey { mode: 0o644, .. })
        ));
    }

    #[test]
    fn public_keys_round_trip_and_bad_ones_say_why() {
        let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        assert_eq!(parse_public_key(&show_public_key(&key)).unwrap(), key);
        assert!(
            parse_public_key("rsa:abc")
                .unwrap_err()
                .contains("must start with `ed25519:`")
        );
        assert!(
            parse_public_key("ed25519:!!")
                .unwrap_err()
                .contains("not base64")
        );
        assert!(
            parse_public_key("ed25519:AAAA")
                .unwrap_err()
                .contains("32 bytes")
        );
        // The identity point: R = identity, S = 0 would verify any message under it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = format!("{PUBLIC_PREFIX}{}", STANDARD.encode(identity));
        assert!(
            parse_public_key(&weak).unwrap_err().contains("weak key"),
            "{weak}"
        );
    }
}
