//! Source hygiene that a reviewer would otherwise check by hand.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_comment_saying_what_it_owns() {
    let root = medic_tests::workspace_root();
    let mut files = Vec::new();
    for dir in [
        "host/src",
        "guest-sdk/src",
        "build-guests/src",
        "tests/src",
        "remediations",
        "tests/guests",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 30, "found the sources: {}", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|file| !std::fs::read_to_string(file).unwrap().starts_with("//!"))
        .map(|file| file.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a `//!` opening: {missing:?}"
    );
}

#[test]
fn unsafe_code_carries_a_safety_comment() {
    let root = medic_tests::workspace_root();
    let mut files = Vec::new();
    rust_files(&root.join("host/src"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (index, line) in text.lines().enumerate() {
            if line.contains("unsafe {") {
                let before: Vec<&str> = text.lines().take(index).collect();
                let window = before[before.len().saturating_sub(12)..].join("\n");
                assert!(
                    window.contains("// SAFETY:"),
                    "{}:{} has `unsafe` without `// SAFETY:`",
                    file.display(),
                    index + 1
                );
            }
        }
    }
}
