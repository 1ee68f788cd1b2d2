//! The scenario format's checks: what a bad file is told, and the committed JSON Schema.

use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    parse_scenario(text, Path::new("scenarios/case.toml"))
}

const MINIMAL: &str = r#"
[incident]
resource = { kind = "service", id = "web" }
issue_type = "service_down"
[expect]
status = "healed"
"#;

#[test]
fn a_minimal_scenario_names_itself_after_its_file() {
    let scenario = parse(MINIMAL).unwrap();
    assert_eq!(scenario.name, "case");
    assert_eq!(scenario.incident.id, "scenario-case");
    assert_eq!(scenario.incident.source.as_str(), "cli");
}

#[test]
fn bad_scenarios_name_the_field_that_is_wrong() {
    let cases: &[(&str, &str)] = &[
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[expect]\nstatus = \"fixed\"\n",
            "unknown variant `fixed`",
        ),
        (
            "surprise = 1\n[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[expect]\nstatus = \"healed\"\n",
            "unknown field `surprise`",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[world.files]\n\"var/log\" = { dir = true }\n[expect]\nstatus = \"healed\"\n",
            "`world.files.\"var/log\"` must be an absolute path without `.`, `..` or empty segments, got `var/log`",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[world.files]\n\"/a/../b\" = { dir = true }\n[expect]\nstatus = \"healed\"\n",
            "must be an absolute path without `.`, `..` or empty segments, got `/a/../b`",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[world.files]\n\"/a\" = { dir = true, content = \"x\" }\n[expect]\nstatus = \"healed\"\n",
            "sets more than one of `content`, `size`, `dir` and `symlink`",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[world.files]\n\"/a\" = { content = \"x\", age = \"soon\" }\n[expect]\nstatus = \"healed\"\n",
            "`world.files.\"/a\".age` `soon`",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[[world.exec]]\nprogram = \"docker\"\n[expect]\nstatus = \"healed\"\n",
            "`world.exec[0].program` must be an absolute path, got `docker`",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[expect]\nstatus = \"denied\"\ncalls = [{ operation = \"apply\", call = \"exec /bin/x\", denied = \"nope\" }]\n",
            "`expect.calls[0].denied` `nope` is not a denial kind",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[expect]\nstatus = \"healed\"\ncapabilities = [\"network\"]\n",
            "`network` is not a capability",
        ),
        (
            "[incident]\nresource = { kind = \"\", id = \"w\" }\nissue_type = \"x\"\n[expect]\nstatus = \"healed\"\n",
            "resource.kind",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[world.files]\n\"/a/l\" = { symlink = \"/root/.ssh\" }\n\"/a/l/authorized_keys\" = { content = \"k\" }\n[expect]\nstatus = \"healed\"\n",
            "`world.files.\"/a/l/authorized_keys\"` lies beneath `/a/l`, which the scenario declares a symlink",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[world.files]\n\"/a/l\" = { symlink = \"/etc\" }\n[expect]\nstatus = \"healed\"\nfiles = { \"/a/l/shadow\" = { exists = true } }\n",
            "`expect.files.\"/a/l/shadow\"` lies beneath `/a/l`",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[world]\nsecrets = { db = \"\" }\n[expect]\nstatus = \"healed\"\n",
            "`world.secrets.db` is shorter than 6 bytes",
        ),
        (
            "[incident]\nresource = { kind = \"s\", id = \"w\" }\nissue_type = \"x\"\n[world.files]\n\"/a\" = { size = 200000000 }\n\"/b\" = { size = 200000000 }\n[expect]\nstatus = \"healed\"\n",
            "ask for 400000000 bytes of filler in all",
        ),
    ];
    for (text, expected) in cases {
        let message = parse(text).unwrap_err().to_string();
        assert!(
            message.starts_with("scenario scenarios/case.toml"),
            "{message}"
        );
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
}

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "golden files are rewritten when UPDATE_EXPECT is set"
)]
fn the_committed_json_schema_is_the_one_the_format_generates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/scenario.schema.json");
    let generated = json_schema();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/scenario.schema.json is stale: regenerate it with `UPDATE_EXPECT=1 cargo test -p medic-host --lib scenario`"
    );
}

#[test]
fn a_worlds_directories_keep_the_mode_and_age_asked_for_whatever_lies_in_them() {
    let scenario = parse(
        r#"
[incident]
resource = { kind = "s", id = "w" }
issue_type = "x"
[world.files]
"/var/app" = { dir = true, mode = 0o500, age = "2d" }
"/var/app/old.log" = { content = "x", age = "3d", mode = 0o400 }
"/var/app/sub/new.log" = { content = "y" }
[expect]
status = "healed"
"#,
    )
    .unwrap();
    let world = world::ScriptedWorld::build(&scenario).unwrap();
    let age = |path: &str| {
        let modified = std::fs::metadata(world.host_path(path))
            .unwrap()
            .modified()
            .unwrap();
        std::time::SystemTime::now()
            .duration_since(modified)
            .unwrap()
            .as_secs()
            / 3600
    };
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &str| {
        std::fs::metadata(world.host_path(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(age("/var/app"), 48, "the children did not reset it");
    assert_eq!(age("/var/app/old.log"), 72);
    assert_eq!(mode("/var/app"), 0o500);
    assert_eq!(mode("/var/app/old.log"), 0o400);
    assert!(world.host_path("/var/app/sub/new.log").is_file());
    let root = world.host_path("/");
    drop(world);
    assert!(
        !root.exists(),
        "a locked directory does not stop the cleanup"
    );
}
