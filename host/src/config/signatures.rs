//! `[signatures]`: whether remediations from directories must carry a signature, and
//! by which reviewers' keys (`manifest/signature.rs` checks them).

use std::collections::BTreeMap;
use std::path::Path;

use super::raw;
use super::{ConfigError, invalid};

/// `[signatures]`: an operator can require that only remediations a trusted reviewer
/// signed (`medic manifest sign`) run; bundled ones are part of medic and need none.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    /// Refuse a remediation from a directory without a signature by a trusted key.
    pub require: bool,
    /// Reviewers' public keys, by the name the operator gave each.
    pub trusted: BTreeMap<String, ed25519_dalek::VerifyingKey>,
}

pub(super) fn parse_signatures(
    raw: &raw::RawSignatures,
    source: &Path,
) -> Result<Signatures, ConfigError> {
    let mut trusted = BTreeMap::new();
    for (name, key) in &raw.trusted {
        let key = crate::manifest::signature::parse_public_key(key).map_err(|message| {
            invalid(
                source,
                &format!("signatures.trusted.{name}"),
                format!("the key {message}"),
            )
        })?;
        trusted.insert(name.clone(), key);
    }
    let require = raw.require.unwrap_or(false);
    if require && trusted.is_empty() {
        return Err(invalid(
            source,
            "signatures.require",
            "requires signatures but trusts no key: add `trusted = { NAME = \"ed25519:...\" }` (`medic manifest keygen` prints one)".to_string(),
        ));
    }
    Ok(Signatures { require, trusted })
}
