//! `docs/authoring.md`, run as an author would follow it: every code block is exercised,
//! in order, so the guide cannot rot. Each block's info string says how:
//! - `file=PATH`: written to PATH (relative to where the guide starts);
//! - `run`: each line run by `sh -c` in the current folder, which `cd` changes; each must
//!   succeed;
//! - `excerpt=REPO_FILE`: the block must appear, as written, in that file of medic's;
//! - `config`: a `medic.toml` fragment `medic config check` must accept.
//!
//! Blocks also tagged `python` need componentize-py (they are skipped, saying so, on a
//! machine without it; never in CI). A block with none of these tags fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::medic;

/// One fenced block of the guide.
struct Block {
    line: usize,
    tags: Vec<String>,
    text: String,
}

impl Block {
    fn tag(&self, name: &str) -> bool {
        self.tags.iter().any(|tag| tag == name)
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find_map(|tag| tag.strip_prefix(key)?.strip_prefix('='))
    }
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    line: index + 1,
                    tags: info.split_whitespace().map(str::to_string).collect(),
                    text: String::new(),
                });
            }
            (Some(_), Some("")) => blocks.push(open.take().expect("open")),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed code block");
    blocks
}

#[test]
fn the_authoring_guide_works_as_written() {
    let root = medic_tests::workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/authoring.md")).unwrap();
    let medic = medic();
    let start = medic.private_dir().join("guide");
    let home = medic.private_dir().join("home");
    std::fs::create_dir_all(&start).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_medic"));
    let tools = medic_tests::componentize_py_dir();
    let mut path = format!("{}", binary.parent().unwrap().display());
    if let Some(tools) = &tools {
        path = format!("{path}:{}", tools.display());
    }
    let path = format!("{path}:{}", std::env::var("PATH").unwrap_or_default());
    // The guide's commands run with a home of their own (medic's data directory goes
    // there), and the real toolchain.
    let real_home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| real_home.join(".cargo"));
    let rustup_home = std::env::var("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| real_home.join(".rustup"));
    let mut cwd = start.clone();
    let mut skipped_python = 0;
    let blocks = blocks(&guide);
    assert!(blocks.len() >= 15, "{} blocks", blocks.len());
    for block in &blocks {
        let at = format!("docs/authoring.md:{}", block.line);
        if block.tag("python") && tools.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{at}: componentize-py is missing in CI"
            );
            skipped_python += 1;
            continue;
        }
        if let Some(file) = block.value("file") {
            let target = start.join(file);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(&target, &block.text).unwrap();
        } else if let Some(file) = block.value("excerpt") {
            let source = std::fs::read_to_string(root.join(file)).unwrap();
            assert!(
                source.contains(&block.text),
                "{at}: the excerpt is no longer in {file}"
            );
        } else if block.tag("config") {
            let file = medic.private_dir().join("guide-config.toml");
            std::fs::write(&file, &block.text).unwrap();
            let check = medic.run(&["--config", &file.display().to_string(), "config", "check"]);
            assert_eq!(check.code, 0, "{at}: {}", check.stderr);
        } else if block.tag("run") {
            for line in block.text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if let Some(dir) = line.strip_prefix("cd ") {
                    cwd = normalise(&cwd.join(dir));
                    assert!(cwd.is_dir(), "{at}: `{line}`: no such folder");
                    continue;
                }
                let output = Command::new("sh")
                    .arg("-c")
                    .arg(line)
                    .current_dir(&cwd)
                    .env("PATH", &path)
                    .env("HOME", &home)
                    .env("CARGO_HOME", &cargo_home)
                    .env("RUSTUP_HOME", &rustup_home)
                    .env_remove("XDG_DATA_HOME")
                    .env("MEDIC_SYSTEM_CONFIG", "")
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&output.stdout);
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(
                    output.status.success(),
                    "{at}: `{line}` failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
                    output.status
                );
                check_output(&at, line, &stdout);
            }
        } else {
            panic!("{at}: a code block the test does not exercise: tag it (see this file's doc)");
        }
    }
    if skipped_python > 0 {
        eprintln!("SKIPPED {skipped_python} Python blocks: componentize-py is not installed");
    }

    // Reproducible: the same sources and Cargo.lock, built in another folder (so another
    // absolute path, remapped away), give the very bytes the manifest pins.
    let built = start.join("restart-worker");
    let copy = medic.private_dir().join("elsewhere/restart-worker");
    copy_tree(&built, &copy);
    assert!(
        copy.join("Cargo.lock").is_file(),
        "the first build writes Cargo.lock"
    );
    let rebuild = Command::new(&binary)
        .arg("build")
        .current_dir(&copy)
        .env("PATH", &path)
        .env("HOME", &home)
        .env("CARGO_HOME", &cargo_home)
        .env("RUSTUP_HOME", &rustup_home)
        .env_remove("XDG_DATA_HOME")
        .env("MEDIC_SYSTEM_CONFIG", "")
        .output()
        .unwrap();
    assert!(
        rebuild.status.success(),
        "rebuilding a copy: {}",
        String::from_utf8_lossy(&rebuild.stderr)
    );
    let pinned = |dir: &Path| {
        let manifest: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join("remediation.toml")).unwrap())
                .unwrap();
        manifest["sha256"].as_str().unwrap().to_string()
    };
    assert_eq!(
        pinned(&copy),
        pinned(&built),
        "a copy of the guide's remediation built elsewhere gives other bytes"
    );
}

/// Copy `from` to `to`, leaving out build output (`target/`).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// What the guide says a command prints, checked where it matters.
fn check_output(at: &str, line: &str, stdout: &str) {
    match line {
        "medic test" => {
            assert!(stdout.ends_with("3 passed, 0 failed\n"), "{at}: {stdout}");
        }
        "medic build" => {
            assert!(
                stdout
                    .contains("ceiling.toml holds the 1 grant this host's `medium` ceiling lacks"),
                "{at}: {stdout}"
            );
            assert!(stdout.contains("check: ok"), "{at}: {stdout}");
        }
        "medic manifest explain ." => {
            assert!(stdout.contains("warnings: none"), "{at}: {stdout}");
        }
        _ => {}
    }
}

fn normalise(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                normal.pop();
            }
            std::path::Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal
}
