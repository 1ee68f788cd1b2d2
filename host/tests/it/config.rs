//! Layered configuration: the embedded default, then a system file, then `--config`, each
//! overlaying section by section; `ceilings.d/*.toml` drop-ins add grants; a file someone
//! else could change is refused; `medic config show` names where each part came from and
//! `medic config check` validates without running anything.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use medic_tests::{Medic, Remediation};

use super::{assert_healed, medic};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn disk_incident(medic: &Medic) -> std::path::PathBuf {
    let logs = tempfile::Builder::new()
        .prefix("medic-layers-")
        .tempdir_in("/tmp")
        .unwrap()
        .keep();
    std::fs::write(logs.join("app.log.1"), vec![b'x'; 10_000]).unwrap();
    medic.incident_for(
        "layers",
        "host",
        "disk_full",
        &[("dir", &logs.display().to_string()), ("max_bytes", "1MB")],
    )
}

#[test]
fn a_file_with_only_diagnosis_keeps_the_default_ceilings() {
    let medic = medic();
    write(&medic.config_path(), "[diagnosis]\nllm_threshold = 0.5\n");
    let incident = disk_incident(&medic);
    let result = medic.run(&[
        "run",
        "free-disk-space",
        "--incident",
        &incident.display().to_string(),
        "--json",
    ]);
    assert_healed(&result);
    let shown = medic.run(&["config", "show", "--json"]).json();
    let medium = shown["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["section"] == "ceilings.medium")
        .unwrap();
    assert_eq!(medium["source"], "<embedded medic.toml>");
    let diagnosis = shown["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["section"] == "diagnosis")
        .unwrap();
    assert_eq!(
        diagnosis["source"],
        medic.config_path().display().to_string()
    );
}

#[test]
fn layers_overlay_by_section_and_drop_ins_add_grants() {
    let medic = medic();
    let system = medic.root().join("etc/medic.toml");
    write(
        &system,
        "[ceilings.low]\nexec = [{ program = \"/usr/bin/true\", args = [\"^a$\"] }]\n",
    );
    let dir = medic.install(&Remediation::new("exec-escape").exec("/usr/bin/true", &["^(a|b)$"]));
    // The harness wrote a ceiling for the remediation; replace it by a file that sets
    // nothing, so the system file's [ceilings.low] is the one in force.
    write(&medic.config_path(), "[diagnosis]\nllm_threshold = 0.6\n");
    let run = |env_system: &str| {
        medic.run_with_env(
            &[
                "run",
                &dir.display().to_string(),
                "--incident",
                &medic
                    .incident("layer", &[("program", "/usr/bin/true"), ("args", "b")])
                    .display()
                    .to_string(),
                "--json",
            ],
            &[("MEDIC_SYSTEM_CONFIG", env_system)],
        )
    };
    let system_text = system.display().to_string();
    let refused = run(&system_text);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    // Under --json the error is JSON on stderr.
    let error: serde_json::Value = serde_json::from_str(refused.stderr.trim()).unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert_eq!(error["error"]["exit_code"], 2);
    assert!(
        message
            .contains("allows `/usr/bin/true \"b\"`, which is beyond the operator's `low` ceiling"),
        "{message}"
    );
    assert!(message.contains(&system_text), "{message}");
    write(
        &medic.config_path().with_file_name("ceilings.d/true.toml"),
        "[[ceilings.low.exec]]\nprogram = \"/usr/bin/true\"\nargs = [\"^b$\"]\n",
    );
    assert_healed(&run(&system_text));
    let shown = medic
        .run_with_env(
            &["config", "show"],
            &[("MEDIC_SYSTEM_CONFIG", &system_text)],
        )
        .stdout;
    assert!(
        shown.contains(&format!("[ceilings.low]  # {system_text}; added by ")),
        "{shown}"
    );
    assert!(
        shown.contains("ceilings.d/true.toml:2: `ceilings.low.exec[0]`"),
        "{shown}"
    );
}

#[test]
fn a_configuration_someone_else_could_change_is_refused() {
    let medic = medic();
    write(&medic.config_path(), "[diagnosis]\nllm_threshold = 0.5\n");
    std::fs::set_permissions(medic.config_path(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let result = medic.run(&["config", "check"]);
    assert_eq!(result.code, 2);
    assert!(
        result
            .stderr
            .contains("is unsafe: it is writable by group or others (mode 666)"),
        "{}",
        result.stderr
    );
    std::fs::set_permissions(medic.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let drop_in = medic.config_path().with_file_name("ceilings.d/open.toml");
    write(
        &drop_in,
        "[[ceilings.high.fs]]\npath = \"/srv\"\naccess = \"read-write\"\n",
    );
    std::fs::set_permissions(&drop_in, std::fs::Permissions::from_mode(0o646)).unwrap();
    let result = medic.run(&["config", "check"]);
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("open.toml` is unsafe"),
        "{}",
        result.stderr
    );
}

#[test]
fn config_check_names_the_file_and_line_of_a_bad_entry() {
    let medic = medic();
    write(
        &medic.config_path(),
        "[ceilings.low]\nfs = [{ path = \"/proc/self\", access = \"read\" }]\n",
    );
    let result = medic.run(&["config", "check"]);
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains(&format!(
            "{}:2: `ceilings.low.fs[0].path`: `/proc/self` is under `/proc`, which is never granted",
            medic.config_path().display()
        )),
        "{}",
        result.stderr
    );
    write(&medic.config_path(), "[diagnosis]\nllm_threshold = 0.5\n");
    let result = medic.run(&["config", "check"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert!(
        result.stdout.starts_with("ok: configuration valid"),
        "{}",
        result.stdout
    );
}

/// The TOML blocks of README.md's section `heading`, in order.
fn readme_blocks(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let section = readme
        .split("\n### ")
        .find(|section| section.starts_with(heading))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    section
        .split("```toml\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap().to_string())
        .collect()
}

#[test]
fn the_readme_configuration_examples_are_valid() {
    let medic = medic();
    let configuration = readme_blocks("Configuration");
    assert_eq!(configuration.len(), 2, "a ceiling and a drop-in");
    let secrets = readme_blocks("Secrets");
    let operator_part = secrets[0]
        .split("# medic.toml\n")
        .nth(1)
        .expect("the secrets example holds a medic.toml part");
    write(
        &medic.config_path(),
        &format!("{}\n{operator_part}", configuration[0]),
    );
    write(
        &medic
            .config_path()
            .parent()
            .unwrap()
            .join("ceilings.d/postgres.toml"),
        &configuration[1],
    );
    let result = medic.run(&["config", "check"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let shown = medic.run(&["config", "show", "--json"]);
    assert!(shown.stdout.contains("pg_isready"), "{}", shown.stdout);
    assert!(shown.stdout.contains("ci_token"), "{}", shown.stdout);
}

#[test]
fn a_drop_in_directory_someone_else_could_change_is_refused() {
    let medic = medic();
    write(&medic.config_path(), "[diagnosis]\nllm_threshold = 0.5\n");
    let drop_ins = medic.config_path().parent().unwrap().join("ceilings.d");
    std::fs::create_dir_all(&drop_ins).unwrap();
    std::fs::set_permissions(&drop_ins, std::fs::Permissions::from_mode(0o777)).unwrap();
    let result = medic.run(&["config", "check"]);
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(
        result
            .stderr
            .contains("it is writable by group or others (mode 777)"),
        "{}",
        result.stderr
    );
    std::fs::set_permissions(&drop_ins, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(medic.run(&["config", "check"]).code, 0);
}
