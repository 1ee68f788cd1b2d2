//! The fs gate from the hostile side: `fs-escape` tries paths outside its roots, `..`,
//! symlinks that point out, and writes under a read-only grant.

use std::path::{Path, PathBuf};

use medic_tests::{Medic, Remediation};

use super::{Attack, assert_denial_audited, assert_denied, assert_healed, call, medic};

struct Layout {
    granted: PathBuf,
    readonly: PathBuf,
    secret: PathBuf,
}

fn layout(medic: &Medic) -> Layout {
    let root = medic.root();
    let layout = Layout {
        granted: root.join("granted"),
        readonly: root.join("readonly"),
        secret: root.join("outside").join("secret"),
    };
    for dir in [&layout.granted, &layout.readonly, &root.join("outside")] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&layout.secret, "top secret").unwrap();
    std::fs::write(layout.readonly.join("config"), "original").unwrap();
    std::os::unix::fs::symlink(&layout.secret, layout.granted.join("link-out")).unwrap();
    std::os::unix::fs::symlink(
        "../outside/secret",
        layout.granted.join("relative-link-out"),
    )
    .unwrap();
    layout
}

fn grant(layout: &Layout) -> Remediation {
    Remediation::new("fs-escape")
        .risk("medium")
        .fs(&layout.granted, "read-write")
        .fs(&layout.readonly, "read")
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn fs_reads_and_writes_beneath_granted_roots() {
    let medic = medic();
    let layout = layout(&medic);
    let dir = medic.install(&grant(&layout));
    let write = medic.incident(
        "fs-write",
        &[
            ("op", "write"),
            ("path", &path(&layout.granted.join("note"))),
            ("data", "hello"),
        ],
    );
    assert_healed(&medic.run_remediation(&dir, &write));
    assert_eq!(
        std::fs::read_to_string(layout.granted.join("note")).unwrap(),
        "hello"
    );
    let read = medic.incident(
        "fs-read",
        &[
            ("op", "read"),
            ("path", &path(&layout.readonly.join("config"))),
        ],
    );
    let report = assert_healed(&medic.run_remediation(&dir, &read));
    assert!(
        call(&report, "apply")["detail"]
            .as_str()
            .unwrap()
            .contains("read: original")
    );
}

#[test]
fn fs_denies_every_way_out_of_its_roots() {
    let medic = medic();
    let layout = layout(&medic);
    let dir = medic.install(&grant(&layout));
    let granted = path(&layout.granted);
    let cases: Vec<Attack> = vec![
        (
            "outside",
            vec![("op", "read".into()), ("path", path(&layout.secret))],
            "not_in_manifest",
        ),
        (
            "etc",
            vec![("op", "read".into()), ("path", "/etc/passwd".into())],
            "not_in_manifest",
        ),
        (
            "proc",
            vec![("op", "read".into()), ("path", "/proc/self/environ".into())],
            "not_in_manifest",
        ),
        (
            "dot-dot",
            vec![
                ("op", "read".into()),
                ("path", format!("{granted}/../outside/secret")),
            ],
            "malformed",
        ),
        (
            "relative",
            vec![("op", "read".into()), ("path", "outside/secret".into())],
            "malformed",
        ),
        (
            "symlink out",
            vec![
                ("op", "read".into()),
                ("path", format!("{granted}/link-out")),
            ],
            "escape",
        ),
        (
            "relative symlink out",
            vec![
                ("op", "read".into()),
                ("path", format!("{granted}/relative-link-out")),
            ],
            "escape",
        ),
        (
            "write through symlink",
            vec![
                ("op", "write".into()),
                ("path", format!("{granted}/link-out")),
            ],
            "escape",
        ),
        (
            "write read-only",
            vec![
                ("op", "write".into()),
                ("path", path(&layout.readonly.join("config"))),
            ],
            "read_only",
        ),
        (
            "create in read-only",
            vec![
                ("op", "write".into()),
                ("path", path(&layout.readonly.join("new"))),
            ],
            "read_only",
        ),
        (
            "remove read-only",
            vec![
                ("op", "remove".into()),
                ("path", path(&layout.readonly.join("config"))),
            ],
            "read_only",
        ),
        (
            "rename out",
            vec![
                ("op", "rename".into()),
                ("path", format!("{granted}/link-out")),
                ("path2", path(&layout.secret.with_file_name("moved"))),
            ],
            "not_in_manifest",
        ),
        (
            "rename from read-only",
            vec![
                ("op", "rename".into()),
                ("path", path(&layout.readonly.join("config"))),
                ("path2", format!("{granted}/stolen")),
            ],
            "read_only",
        ),
        (
            "prefix trick",
            vec![
                ("op", "write".into()),
                ("path", format!("{granted}-evil/x")),
            ],
            "not_in_manifest",
        ),
    ];
    for (index, (what, params, reason)) in cases.iter().enumerate() {
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        let result = medic.run_remediation(&dir, &medic.incident(&format!("fs-{index}"), &params));
        assert_denied(&result, "fs", reason);
        assert_eq!(
            std::fs::read_to_string(&layout.secret).unwrap(),
            "top secret",
            "{what}: secret unchanged"
        );
        assert_eq!(
            std::fs::read_to_string(layout.readonly.join("config")).unwrap(),
            "original",
            "{what}: read-only file unchanged"
        );
        assert!(
            !layout.readonly.join("new").exists() && !layout.granted.join("stolen").exists(),
            "{what}: nothing created"
        );
    }
    assert_denial_audited(&medic, "fs", "link-out", "escape");
    assert_denial_audited(&medic, "fs", "/etc/passwd", "not_in_manifest");
}
