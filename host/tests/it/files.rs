//! Files are files, and every cost is bounded: a FIFO, socket or device in a granted root
//! is refused on the descriptor (never waited on), and so is one named as medic's own
//! input; a read stops at the guest's remaining memory, a write at the per-call and
//! per-run caps; each refusal is audited with its kind and the host carries on.

use std::path::Path;

use medic_tests::{Medic, Remediation};

use super::{assert_denial_audited, assert_denied, assert_healed, medic};

fn granted(medic: &Medic) -> std::path::PathBuf {
    let dir = medic.root().join("granted");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

#[test]
fn fifos_sockets_and_devices_in_a_root_are_refused_not_waited_on() {
    let medic = medic();
    let dir_path = granted(&medic);
    mkfifo(&dir_path.join("fifo"));
    let _socket = std::os::unix::net::UnixListener::bind(dir_path.join("socket")).unwrap();
    let device = dir_path.join("null-device");
    let have_device = nix::sys::stat::mknod(
        &device,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::makedev(1, 3),
    )
    .is_ok();
    let dir = medic.install(
        &Remediation::new("fs-escape")
            .risk("medium")
            .fs(&dir_path, "read-write"),
    );
    let mut cases = vec![
        ("read", "fifo"),
        ("write", "fifo"),
        ("read", "socket"),
        ("write", "socket"),
    ];
    if have_device {
        cases.extend([("read", "null-device"), ("write", "null-device")]);
    }
    for (op, name) in cases {
        let path = dir_path.join(name).display().to_string();
        let result = medic.run_remediation(
            &dir,
            &medic.incident(&format!("{op}-{name}"), &[("op", op), ("path", &path)]),
        );
        assert_denied(&result, "fs", "special_file");
    }
    assert_denial_audited(&medic, "fs", "fifo", "special_file");
    let fine = dir_path.join("file").display().to_string();
    assert_healed(&medic.run_remediation(
        &dir,
        &medic.incident("fine", &[("op", "write"), ("path", &fine)]),
    ));
}

#[test]
fn medics_own_inputs_must_be_regular_files() {
    let medic = medic();
    let dir = medic.install(&Remediation::new("limits-abuse"));
    let fifo = medic.root().join("incident.fifo");
    mkfifo(&fifo);
    let result = medic.run(&[
        "run",
        &dir.display().to_string(),
        "--incident",
        &fifo.display().to_string(),
    ]);
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("is a FIFO, not a regular file"),
        "{}",
        result.stderr
    );
    // The component itself replaced by a FIFO.
    let incident = medic.incident("fifo-component", &[("attack", "none")]);
    std::fs::remove_file(dir.join("guest.wasm")).unwrap();
    mkfifo(&dir.join("guest.wasm"));
    let result = medic.run_remediation(&dir, &incident);
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("guest.wasm` is a FIFO"),
        "{}",
        result.stderr
    );
}

#[test]
fn reads_stop_at_the_guests_memory_and_writes_at_their_caps() {
    let medic = medic();
    let dir_path = granted(&medic);
    let big = dir_path.join("big");
    std::fs::write(&big, vec![b'x'; 15 << 20]).unwrap();
    let reader = medic.install(
        &Remediation::new("fs-escape")
            .risk("medium")
            .fs(&dir_path, "read-write")
            .limit("memory", "16MiB"),
    );
    let result = medic.run_remediation(
        &reader,
        &medic.incident(
            "big-read",
            &[("op", "read"), ("path", &big.display().to_string())],
        ),
    );
    let call = assert_denied(&result, "fs", "over_cap");
    assert!(
        call["reason"]
            .as_str()
            .unwrap()
            .contains("remaining memory"),
        "{call:#}"
    );

    let writer = medic.install(
        &Remediation::new("sequence")
            .risk("medium")
            .fs(&dir_path, "read-write")
            .limit("memory", "64MiB")
            .limit("timeout", "120s"),
    );
    let out = dir_path.join("out");
    let one = format!("write-bytes {} {}", out.display(), 9 << 20);
    let result = medic.run_remediation(
        &writer,
        &medic.incident("one-big-write", &[("steps", &one)]),
    );
    assert_denied(&result, "fs", "over_cap");
    assert!(!out.exists(), "nothing was written");
    let many: Vec<String> = (0..9)
        .map(|index| format!("write-bytes {}-{index} {}", out.display(), 8 << 20))
        .collect();
    let result = medic.run_remediation(
        &writer,
        &medic.incident("many-writes", &[("steps", &many.join("\n"))]),
    );
    let call = assert_denied(&result, "fs", "over_cap");
    assert!(
        call["reason"].as_str().unwrap().contains("write budget"),
        "{call:#}"
    );
    assert!(Path::new(&format!("{}-7", out.display())).exists());
    assert!(
        !Path::new(&format!("{}-8", out.display())).exists(),
        "the ninth write was refused"
    );
    assert_denial_audited(&medic, "fs", "write", "over_cap");
}
