//! Writing a built component's sha256 into its manifest, keeping the author's layout and
//! comments (`toml_edit`), so `medic build` replaces by hand what an author once computed.

use toml_edit::{DocumentMut, value};

/// `manifest` (the text of a `remediation.toml`) with `sha256 = "<sha256>"`, added when
/// missing, everything else as written. `Err` carries toml's message.
pub fn set_sha256(manifest: &str, sha256: &str) -> Result<String, String> {
    let mut document: DocumentMut = manifest
        .parse()
        .map_err(|error: toml_edit::TomlError| error.to_string())?;
    match document
        .get_mut("sha256")
        .and_then(|item| item.as_value_mut())
    {
        Some(existing) => {
            let decor = existing.decor().clone();
            *existing = sha256.into();
            *existing.decor_mut() = decor;
        }
        None => {
            document["sha256"] = value(sha256);
        }
    }
    Ok(document.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_changes_and_nothing_else_does() {
        let before = "name = \"x\"  # the id\nsha256 = \"00\"   # pinned by medic build\n\n[limits]\ntimeout = \"5s\"\n";
        let after = set_sha256(before, "ab").unwrap();
        assert_eq!(
            after,
            "name = \"x\"  # the id\nsha256 = \"ab\"   # pinned by medic build\n\n[limits]\ntimeout = \"5s\"\n"
        );
        let added = set_sha256("name = \"x\"\n[limits]\n", "cd").unwrap();
        assert_eq!(added, "name = \"x\"\nsha256 = \"cd\"\n[limits]\n");
        assert!(set_sha256("name = = 1", "ab").is_err());
    }
}
