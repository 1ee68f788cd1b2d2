//! The author's kit, as an author runs it: `medic test` against scripted worlds (passing,
//! failing, malformed, and never touching the host or medic's own records), and
//! `medic new` laying out remediations alone, inside a cargo workspace and inside medic's
//! own, refusing to overwrite anything.

use std::path::Path;

use medic_tests::{Medic, Remediation};

use super::medic;

fn scenario(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::write(dir.join("scenarios").join(format!("{name}.toml")), text).unwrap();
}

const INCIDENT: &str =
    "[incident]\nresource = { kind = \"service\", id = \"web\" }\nissue_type = \"test\"\n";

/// `exec-escape` granted `/usr/bin/touch` on paths under /tmp.
fn touch_remediation(medic: &Medic) -> std::path::PathBuf {
    medic.install(
        &Remediation::new("exec-escape")
            .risk("medium")
            .exec("/usr/bin/touch", &["^/tmp/[A-Za-z0-9._/-]+$"]),
    )
}

#[test]
fn scenarios_script_the_world_and_nothing_touches_the_host() {
    let medic = medic();
    let dir = touch_remediation(&medic);
    let marker = medic.root().join("must-not-exist");
    let marker = marker.display().to_string();
    scenario(
        &dir,
        "scripted-touch",
        &format!(
            "description = \"touch runs in the script, not on the host\"\n{INCIDENT}params = {{ program = \"/usr/bin/touch\", args = \"{marker}\" }}\n[[world.exec]]\nprogram = \"/usr/bin/touch\"\nargs = [\"{marker}\"]\nstdout = \"touched\"\n[expect]\nstatus = \"healed\"\nsummary_contains = \"stdout touched\"\ncalls = [{{ operation = \"apply\", call = \"exec /usr/bin/touch {marker}\" }}]\ncapabilities = [\"exec\"]\n"
        ),
    );
    scenario(
        &dir,
        "shell-refused",
        &format!(
            "{INCIDENT}params = {{ program = \"/bin/sh\", args = \"-c\\nid\" }}\n[expect]\nstatus = \"denied\"\ncalls = [{{ operation = \"apply\", call = \"exec /bin/sh -c id\", denied = \"not_in_manifest\" }}]\n"
        ),
    );
    let result = medic.run(&["test", &dir.display().to_string(), "--json"]);
    assert_eq!(result.code, 0, "{}\n{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["passed"], 2, "{report:#}");
    assert_eq!(report["failed"], 0);
    assert_eq!(report["scenarios"][0]["name"], "scripted-touch");
    assert_eq!(report["scenarios"][1]["status"], "denied");
    assert_eq!(report["unused_grants"], serde_json::json!([]));
    assert!(
        !Path::new(&marker).exists(),
        "the program ran in the script only"
    );
    // The runs went to a test bed, removed afterwards: medic's own audit log and runs
    // journal never saw them, so nothing could ever be recovered on this host.
    let audit = medic.run(&["audit", "verify", "--json"]).json();
    assert_eq!(audit["records"], 0, "{audit:#}");
    let beds: Vec<_> = std::fs::read_dir(medic.data_dir().join("tests"))
        .map(|entries| entries.collect())
        .unwrap_or_default();
    assert!(beds.is_empty(), "the test bed is removed");
}

#[test]
fn a_failing_scenario_says_what_differed_and_exits_1() {
    let medic = medic();
    let dir = touch_remediation(&medic);
    scenario(
        &dir,
        "nonzero-exit",
        &format!(
            "{INCIDENT}params = {{ program = \"/usr/bin/touch\", args = \"/tmp/x\" }}\n[[world.exec]]\nprogram = \"/usr/bin/touch\"\nstatus = 1\n[expect]\nstatus = \"healed\"\n"
        ),
    );
    scenario(
        &dir,
        "unscripted",
        &format!(
            "{INCIDENT}params = {{ program = \"/usr/bin/touch\", args = \"/tmp/y\" }}\n[expect]\nstatus = \"healed\"\n"
        ),
    );
    let result = medic.run(&["test", &dir.display().to_string()]);
    assert_eq!(result.code, 1, "{}\n{}", result.stdout, result.stderr);
    assert!(
        result.stdout.ends_with("1 passed, 1 failed\n"),
        "{}",
        result.stdout
    );
    assert!(
        result.stdout.contains("FAIL unscripted"),
        "{}",
        result.stdout
    );
    assert!(
        result
            .stdout
            .contains("- unscripted call: apply: exec /usr/bin/touch /tmp/y"),
        "{}",
        result.stdout
    );
    assert!(
        result
            .stdout
            .contains("{ operation = \"apply\", call = \"exec /usr/bin/touch /tmp/y\" },"),
        "the calls made are shown in the scenario's syntax: {}",
        result.stdout
    );
    // The guest took status 1 as success here, so `nonzero-exit` passes: the exit status is
    // what the script said, and the guest reports it.
    assert!(
        result.stdout.contains("PASS nonzero-exit"),
        "{}",
        result.stdout
    );

    // `--scenario FILE` runs that file alone (a file need not live in scenarios/).
    let only = dir.join("scenarios/nonzero-exit.toml");
    let result = medic.run(&[
        "test",
        &dir.display().to_string(),
        "--scenario",
        &only.display().to_string(),
        "--json",
    ]);
    assert_eq!(result.code, 0, "{}\n{}", result.stdout, result.stderr);
    let report = result.json();
    assert_eq!(report["passed"], 1, "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    let elsewhere = medic.root().join("elsewhere.toml");
    std::fs::copy(dir.join("scenarios/unscripted.toml"), &elsewhere).unwrap();
    let result = medic.run(&[
        "test",
        &dir.display().to_string(),
        "--scenario",
        &elsewhere.display().to_string(),
    ]);
    assert_eq!(result.code, 1, "{}\n{}", result.stdout, result.stderr);
    assert!(
        result.stdout.ends_with("0 passed, 1 failed\n"),
        "{}",
        result.stdout
    );
}

#[test]
fn a_malformed_scenario_is_refused_before_anything_runs() {
    let medic = medic();
    let dir = touch_remediation(&medic);
    scenario(
        &dir,
        "good",
        &format!("{INCIDENT}[expect]\nstatus = \"invalid_input\"\n"),
    );
    scenario(
        &dir,
        "bad",
        &format!("{INCIDENT}[world.exec]\nprogram = 1\n[expect]\nstatus = \"healed\"\n"),
    );
    let result = medic.run(&["test", &dir.display().to_string()]);
    assert_eq!(result.code, 2, "{}", result.stderr);
    assert!(result.stdout.is_empty(), "{}", result.stdout);
    let bad = dir.join("scenarios/bad.toml");
    assert!(
        result.stderr.starts_with(&format!(
            "error: scenario {}: line 4, column 1:",
            bad.display()
        )),
        "{}",
        result.stderr
    );
    let empty = medic.root().join("empty");
    std::fs::create_dir_all(empty.join("scenarios")).unwrap();
    std::fs::copy(dir.join("remediation.toml"), empty.join("remediation.toml")).unwrap();
    std::fs::copy(dir.join("guest.wasm"), empty.join("guest.wasm")).unwrap();
    let result = medic.run(&["test", &empty.display().to_string()]);
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("no scenarios in"),
        "{}",
        result.stderr
    );
}

#[test]
fn a_scenario_world_holds_files_and_checks_them_afterwards() {
    let medic = medic();
    let root = std::path::PathBuf::from("/srv/app");
    let grant = Remediation::new("fs-escape")
        .risk("medium")
        .fs(&root, "read-write");
    let dir = medic.install(&grant);
    scenario(
        &dir,
        "write",
        &format!(
            "{INCIDENT}params = {{ op = \"write\", path = \"/srv/app/state\", data = \"new\" }}\n[world.files]\n\"/srv/app/state\" = {{ content = \"old\" }}\n[expect]\nstatus = \"healed\"\ncalls = [{{ operation = \"apply\", call = \"fs write /srv/app/state\" }}]\nfiles = {{ \"/srv/app/state\" = {{ content = \"new\" }} }}\n"
        ),
    );
    scenario(
        &dir,
        "symlink",
        &format!(
            "{INCIDENT}params = {{ op = \"read\", path = \"/srv/app/link\" }}\n[world.files]\n\"/srv/app/link\" = {{ symlink = \"/etc/passwd\" }}\n[expect]\nstatus = \"denied\"\ncalls = [{{ operation = \"apply\", call = \"fs read /srv/app/link\", denied = \"escape\" }}]\n"
        ),
    );
    let result = medic.run(&["test", &dir.display().to_string(), "--json"]);
    assert_eq!(result.code, 0, "{}\n{}", result.stdout, result.stderr);
    assert_eq!(result.json()["passed"], 2);
    assert!(
        !root.join("state").exists(),
        "the host's /srv was never touched"
    );
}

#[test]
fn bundled_remediations_pass_their_own_scenarios() {
    let medic = medic();
    let list = medic.run(&["remediations", "list", "--json"]).json();
    for entry in list["remediations"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let result = medic.run(&["test", name, "--json"]);
        assert_eq!(
            result.code, 0,
            "{name}: {}\n{}",
            result.stdout, result.stderr
        );
        let report = result.json();
        assert!(
            report["passed"].as_u64().unwrap() >= 3,
            "{name}: {report:#}"
        );
        assert_eq!(report["failed"], 0, "{name}");
    }
}

#[test]
fn the_scenario_schema_is_printed_for_editors() {
    let result = medic().run(&["test", "--schema"]);
    assert_eq!(result.code, 0);
    let committed =
        std::fs::read_to_string(medic_tests::workspace_root().join("docs/scenario.schema.json"))
            .unwrap();
    assert_eq!(result.stdout, committed);
}

fn new(medic: &Medic, parent: &Path, args: &[&str]) -> medic_tests::RunResult {
    let parent = parent.display().to_string();
    let mut all = vec!["new", "remediation"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--dir", &parent]);
    medic.run(&all)
}

#[test]
fn medic_new_lays_out_a_remediation_and_never_overwrites() {
    let medic = medic();
    let parent = medic.root().join("authoring");
    std::fs::create_dir_all(&parent).unwrap();
    let created = new(&medic, &parent, &["my-fix", "--risk", "medium", "--json"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let report = created.json();
    assert_eq!(report["workspace"], serde_json::Value::Null);
    let dir = parent.join("my-fix");
    let manifest = std::fs::read_to_string(dir.join("remediation.toml")).unwrap();
    assert!(manifest.contains("name = \"my-fix\"\n"), "{manifest}");
    assert!(manifest.contains("risk = \"medium\"\n"), "{manifest}");
    let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains("crate-type = [\"cdylib\", \"rlib\"]"),
        "{cargo}"
    );
    assert!(cargo.contains("[profile.guest]"), "{cargo}");
    assert!(cargo.contains("medic-guest-sdk = { path = \"vendor/medic-guest-sdk\" }"));
    assert!(dir.join("vendor/wit/medic.wit").is_file());
    assert!(dir.join("scenarios/reloads-and-answers.toml").is_file());
    // The manifest is valid as written, and explains itself without warnings.
    let explain = medic.run(&["manifest", "explain", &dir.display().to_string(), "--json"]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    assert_eq!(explain.json()["warnings"], serde_json::json!([]));

    std::fs::write(dir.join("src/lib.rs"), "// mine").unwrap();
    let again = new(&medic, &parent, &["my-fix"]);
    assert_eq!(again.code, 2);
    assert!(
        again
            .stderr
            .contains("already exists; medic new never overwrites anything")
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
        "// mine"
    );
    for (name, expected) in [
        ("My_Fix", "is not a remediation name"),
        (
            "restart-service",
            "is the name of a remediation bundled with medic",
        ),
    ] {
        let refused = new(&medic, &parent, &[name]);
        assert_eq!(refused.code, 2, "{name}");
        assert!(
            refused.stderr.contains(expected),
            "{name}: {}",
            refused.stderr
        );
        assert!(!parent.join(name).exists());
    }
    let leftovers: Vec<String> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["my-fix"], "no staging folder is left behind");
}

#[test]
fn medic_new_joins_the_cargo_workspace_it_is_created_in() {
    let medic = medic();
    // Someone's own workspace: the crate joins its members, the SDK is vendored.
    let theirs = medic.root().join("theirs");
    std::fs::create_dir_all(theirs.join("fixes")).unwrap();
    std::fs::write(
        theirs.join("Cargo.toml"),
        "[workspace]\nresolver = \"3\"\nmembers = [\n    \"tools\",\n]\n",
    )
    .unwrap();
    let created = new(&medic, &theirs.join("fixes"), &["fix-a", "--json"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert_eq!(created.json()["workspace"], theirs.display().to_string());
    let workspace = std::fs::read_to_string(theirs.join("Cargo.toml")).unwrap();
    assert_eq!(
        workspace,
        "[workspace]\nresolver = \"3\"\nmembers = [\n    \"tools\",\n    \"fixes/fix-a\",\n]\n"
    );
    let cargo = std::fs::read_to_string(theirs.join("fixes/fix-a/Cargo.toml")).unwrap();
    assert!(
        !cargo.contains("[profile.guest]"),
        "a member's profile would be ignored"
    );
    assert!(
        theirs
            .join("fixes/fix-a/vendor/medic-guest-sdk/Cargo.toml")
            .is_file()
    );

    // medic's own workspace: the crate uses the workspace's SDK and joins both lists.
    let ours = medic.root().join("ours");
    std::fs::create_dir_all(ours.join("wit")).unwrap();
    std::fs::create_dir_all(ours.join("guest-sdk")).unwrap();
    std::fs::create_dir_all(ours.join("remediations")).unwrap();
    std::fs::write(ours.join("wit/medic.wit"), "").unwrap();
    std::fs::write(ours.join("guest-sdk/Cargo.toml"), "").unwrap();
    std::fs::write(
        ours.join("Cargo.toml"),
        "[workspace]\nmembers = [\"host\"]\ndefault-members = [\"host\"]\n",
    )
    .unwrap();
    let created = new(&medic, &ours.join("remediations"), &["fix-b"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let workspace = std::fs::read_to_string(ours.join("Cargo.toml")).unwrap();
    assert_eq!(
        workspace,
        "[workspace]\nmembers = [\"host\", \"remediations/fix-b\"]\ndefault-members = [\"host\", \"remediations/fix-b\"]\n"
    );
    let cargo = std::fs::read_to_string(ours.join("remediations/fix-b/Cargo.toml")).unwrap();
    assert!(
        cargo.contains("medic-guest-sdk.workspace = true"),
        "{cargo}"
    );
    assert!(!ours.join("remediations/fix-b/vendor").exists());

    // A workspace that lists no members gets a list with the new crate in it, which cargo
    // needs to build a crate beneath its root.
    let bare = medic.root().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::write(bare.join("Cargo.toml"), "[workspace]\nresolver = \"3\"\n").unwrap();
    let created = new(&medic, &bare, &["fix-c"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let workspace: toml::Table =
        toml::from_str(&std::fs::read_to_string(bare.join("Cargo.toml")).unwrap()).unwrap();
    assert_eq!(
        workspace["workspace"]["members"],
        toml::Value::Array(vec!["fix-c".into()])
    );
}

#[test]
fn medic_build_says_what_a_folder_lacks() {
    let medic = medic();
    let empty = medic.root().join("nothing-here");
    std::fs::create_dir_all(&empty).unwrap();
    let result = medic.run(&["build", &empty.display().to_string()]);
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("remediation.toml"),
        "{}",
        result.stderr
    );
    std::fs::write(
        empty.join("remediation.toml"),
        "name = \"x\"\nversion = \"0.1.0\"\ndescription = \"d\"\nrisk = \"low\"\ncomponent = \"x.wasm\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n",
    )
    .unwrap();
    let result = medic.run(&["build", &empty.display().to_string()]);
    assert_eq!(result.code, 2);
    assert!(
        result
            .stderr
            .contains("holds neither a Cargo.toml (Rust) nor an app.py (Python)"),
        "{}",
        result.stderr
    );
}

/// What `medic new` writes, untouched, builds and passes its own scenarios and native
/// tests, in each language; named bare from the folder above it, as the README says.
#[test]
fn the_skeleton_medic_new_writes_builds_and_passes_as_it_is() {
    let medic = medic();
    let parent = medic.root().join("fresh");
    std::fs::create_dir_all(&parent).unwrap();
    let tools = medic_tests::componentize_py_dir();
    if tools.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "componentize-py is missing in CI: scripts/setup installs it"
        );
        eprintln!("SKIPPED the Python skeleton: componentize-py is not installed");
    }
    let path = tools.as_deref().map(medic_tests::path_with);
    let mut languages = vec![("fresh-rs", "rust")];
    if path.is_some() {
        languages.push(("fresh-py", "python"));
    }
    for (name, lang) in languages {
        let created = new(&medic, &parent, &[name, "--lang", lang, "--risk", "medium"]);
        assert_eq!(created.code, 0, "{lang}: {}", created.stderr);
        let dir = parent.join(name);
        let mut build = medic.command(&["build", name]);
        build.current_dir(&parent);
        if let Some(path) = &path {
            build.env("PATH", path);
        }
        let built = build.output().unwrap();
        assert!(
            built.status.success(),
            "{lang}: medic build {name}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let tested = medic.run_in(&parent, &["test", name]);
        assert_eq!(
            tested.code, 0,
            "{lang}: {}\n{}",
            tested.stdout, tested.stderr
        );
        assert!(
            tested.stdout.ends_with("3 passed, 0 failed\n"),
            "{lang}: {}",
            tested.stdout
        );
        let check = medic.run(&["manifest", "check", &dir.display().to_string()]);
        assert_eq!(check.code, 0, "{lang}: {}{}", check.stdout, check.stderr);
    }
    // The Python skeleton's native tests run on the system's python3, no sandbox.
    if path.is_some() {
        let native = std::process::Command::new("/usr/bin/python3")
            .args(["-m", "unittest", "-q"])
            .current_dir(parent.join("fresh-py"))
            .output()
            .unwrap();
        assert!(
            native.status.success(),
            "{}",
            String::from_utf8_lossy(&native.stderr)
        );
    }
}

/// A remediation's folder may be someone else's (a pull request, a shared checkout):
/// medic reads its files without following a symlink or blocking on a FIFO, quotes
/// nothing a link points at, and writes nothing outside it.
#[test]
fn a_folders_symlinks_and_fifos_are_refused_not_followed() {
    let medic = medic();
    let private = medic.private_dir();
    std::fs::create_dir_all(&private).unwrap();
    let secret = private.join("secret.toml");
    std::fs::write(&secret, "resource = \"TOPSECRET-1\"\n").unwrap();

    // A scenario that is a symlink to a file the author could not read.
    let dir = touch_remediation(&medic);
    scenario(
        &dir,
        "fine",
        &format!("{INCIDENT}[expect]\nstatus = \"invalid_input\"\n"),
    );
    std::os::unix::fs::symlink(&secret, dir.join("scenarios/leak.toml")).unwrap();
    let result = medic.run(&["test", &dir.display().to_string()]);
    assert_eq!(result.code, 2, "{}", result.stdout);
    assert!(result.stderr.contains("symlink"), "{}", result.stderr);
    assert!(!result.stderr.contains("TOPSECRET"), "{}", result.stderr);
    std::fs::remove_file(dir.join("scenarios/leak.toml")).unwrap();
    // Nor a `scenarios/` that is itself a symlink to a folder the author could not read.
    let hidden = private.join("hidden");
    std::fs::create_dir_all(&hidden).unwrap();
    std::fs::copy(&secret, hidden.join("creds.toml")).unwrap();
    std::fs::rename(dir.join("scenarios"), medic.root().join("scenarios-moved")).unwrap();
    std::os::unix::fs::symlink(&hidden, dir.join("scenarios")).unwrap();
    let result = medic.run(&["test", &dir.display().to_string()]);
    assert_eq!(result.code, 2, "{}", result.stdout);
    assert!(result.stderr.contains("is a symlink"), "{}", result.stderr);
    assert!(!result.stderr.contains("TOPSECRET"), "{}", result.stderr);
    std::fs::remove_file(dir.join("scenarios")).unwrap();
    std::fs::rename(medic.root().join("scenarios-moved"), dir.join("scenarios")).unwrap();

    // A signature that is a symlink.
    std::os::unix::fs::symlink(&secret, dir.join("remediation.sig")).unwrap();
    let made = medic.run(&[
        "manifest",
        "keygen",
        &private.join("reviewer.key").display().to_string(),
    ]);
    let public = made.stdout.trim().to_string();
    medic.write_config(&format!(
        "{}\n[signatures]\nrequire = true\ntrusted = {{ r = \"{public}\" }}\n",
        Remediation::new("exec-escape")
            .risk("medium")
            .exec("/usr/bin/touch", &["^/tmp/[A-Za-z0-9._/-]+$"])
            .ceiling()
    ));
    let check = medic.run(&["manifest", "check", &dir.display().to_string()]);
    assert_eq!(check.code, 2, "{}", check.stdout);
    assert!(check.stderr.contains("symlink"), "{}", check.stderr);
    assert!(!check.stderr.contains("TOPSECRET"), "{}", check.stderr);

    // medic build: a component path through a symlinked folder, and a FIFO manifest.
    let folder = medic.root().join("fix");
    let outside = medic.root().join("outside");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, folder.join("out")).unwrap();
    std::fs::write(folder.join("app.py"), "").unwrap();
    std::fs::write(
        folder.join("remediation.toml"),
        "name = \"fix\"\nversion = \"0.1.0\"\ndescription = \"d\"\nrisk = \"low\"\ncomponent = \"out/fix.wasm\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n",
    )
    .unwrap();
    let built = medic.run(&["build", &folder.display().to_string()]);
    assert_eq!(built.code, 2, "{}", built.stdout);
    assert!(
        built.stderr.contains("lies behind a symlink"),
        "{}",
        built.stderr
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

    std::fs::remove_file(folder.join("remediation.toml")).unwrap();
    nix::unistd::mkfifo(
        &folder.join("remediation.toml"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let built = medic.run(&["build", &folder.display().to_string()]);
    assert_eq!(built.code, 2, "{}", built.stdout);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(
        built.stderr.contains("FIFO") || built.stderr.contains("fifo"),
        "{}",
        built.stderr
    );
}
