//! Diagnosis against real failures: the labelled failure corpus (accuracy), LogChunks
//! (does the evidence point where a human did), and every log of the reference corpus
//! (nothing panics, the output is JSON). Plus the CLI around it: `diagnose`, `patterns`,
//! `context`, and the LLM advisor against a loopback chat-completions server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use medic::diagnosis::{self, PatternLibrary, RootCause};
use medic_tests::{Reply, Server};

use super::medic;

fn fixtures() -> PathBuf {
    medic_tests::workspace_root().join("tests/fixtures")
}

fn diagnose_text(library: &PatternLibrary, text: &[u8]) -> medic::diagnosis::Diagnosis {
    diagnosis::diagnose_input(library, text, &[], diagnosis::DEFAULT_LLM_THRESHOLD)
        .expect("reading from memory cannot fail")
        .0
}

/// The labelled failure corpus: (file, cases it holds, held out of tuning). `dev` and
/// `tune` are what diagnosis is tuned on; `heldout` comes from other tools and is only
/// measured here: its misses are counted, never printed.
const FAILURE_SETS: [(&str, usize, bool); 3] = [
    ("dev.jsonl", 77, false),
    ("tune.jsonl", 151, false),
    ("heldout.jsonl", 81, true),
];

/// Top-1 results over one set of cases.
#[derive(Default)]
struct Accuracy {
    right: usize,
    total: usize,
    seed_right: usize,
    /// (expected, got) -> count.
    confusion: BTreeMap<(String, String), usize>,
}

impl Accuracy {
    fn rate(&self) -> f64 {
        self.right as f64 / self.total as f64
    }

    fn add(&mut self, other: &Accuracy) {
        self.right += other.right;
        self.total += other.total;
        self.seed_right += other.seed_right;
        for (key, count) in &other.confusion {
            *self.confusion.entry(key.clone()).or_default() += count;
        }
    }

    fn print_confusion(&self, name: &str) {
        println!("{name}: confusion (expected -> got: count), misses only:");
        for ((expected, got), count) in &self.confusion {
            if expected != got {
                println!("  {expected:>20} -> {got:<20} {count}");
            }
        }
    }
}

/// Diagnose every case of `file`, as `medic heal -- CMD` would: the log and the
/// command's exit status. Misses are printed unless the file is held out.
fn measure(library: &PatternLibrary, file: &str, held_out: bool) -> Accuracy {
    let path = fixtures().join("failures").join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut accuracy = Accuracy::default();
    for line in text.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let expected = case["category"].as_str().unwrap().to_string();
        let log = case["log"].as_str().unwrap();
        let signals: Vec<_> = case["exit_code"]
            .as_i64()
            .and_then(diagnosis::exit_status_signal)
            .into_iter()
            .collect();
        let diagnosis = diagnosis::diagnose_input(
            library,
            log.as_bytes(),
            &signals,
            diagnosis::DEFAULT_LLM_THRESHOLD,
        )
        .expect("reading from memory cannot fail")
        .0;
        let got = diagnosis.root_cause.as_str().to_string();
        accuracy.total += 1;
        accuracy.seed_right += usize::from(seed_keyword_classifier(log) == expected);
        if got == expected {
            accuracy.right += 1;
        } else if !held_out {
            println!(
                "miss {}: expected {expected}, got {got} ({})",
                case["id"], diagnosis.summary
            );
        }
        *accuracy.confusion.entry((expected, got)).or_default() += 1;
    }
    accuracy
}

#[test]
fn diagnosis_names_the_labelled_root_cause_of_real_failures() {
    let library = PatternLibrary::builtin().unwrap();
    let mut all = Accuracy::default();
    let mut held_out = Accuracy::default();
    for (file, cases, is_held_out) in FAILURE_SETS {
        let accuracy = measure(&library, file, is_held_out);
        println!(
            "{file}: top-1 {}/{} = {:.3}",
            accuracy.right,
            accuracy.total,
            accuracy.rate()
        );
        assert_eq!(accuracy.total, cases, "every case of {file} was read");
        all.add(&accuracy);
        if is_held_out {
            held_out.add(&accuracy);
        }
    }
    all.print_confusion("all sets");
    held_out.print_confusion("held-out tools");
    println!(
        "top-1 on all fixtures: {}/{} = {:.3}; on the held-out tools: {}/{} = {:.3}",
        all.right,
        all.total,
        all.rate(),
        held_out.right,
        held_out.total,
        held_out.rate()
    );
    println!(
        "the seed's keyword classifier (seed 001), mapped onto the taxonomy: {}/{} = {:.3}",
        all.seed_right,
        all.total,
        all.seed_right as f64 / all.total as f64
    );
    assert!(
        all.right > all.seed_right,
        "medic must beat the keyword baseline"
    );
    assert!(
        all.rate() >= 0.90,
        "top-1 accuracy {:.3} on all fixtures is below 0.90",
        all.rate()
    );
    // Issue 9: at least 0.90 on the tools held out of tuning, not only on the whole.
    assert!(
        held_out.rate() >= 0.90,
        "top-1 accuracy {:.3} on the held-out tools is below 0.90",
        held_out.rate()
    );
}

/// A confident wrong answer is worse than `unknown`: on logs of real tools that succeeded
/// (warnings, skipped tests, `Error:` inside a JSON template, TLS key generation), the
/// diagnosis must not name a cause with confidence at or above the threshold.
#[test]
fn diagnosis_is_never_confident_on_logs_of_tools_that_succeeded() {
    let library = PatternLibrary::builtin().unwrap();
    let path = fixtures().join("failures/benign.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut confident = Vec::new();
    let mut named = 0;
    let mut total = 0;
    for line in text.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let diagnosis = diagnose_text(&library, case["log"].as_str().unwrap().as_bytes());
        total += 1;
        if diagnosis.root_cause != RootCause::Unknown {
            named += 1;
            if !diagnosis.low_confidence {
                confident.push(format!(
                    "{}: {} ({})",
                    case["id"],
                    diagnosis.root_cause.as_str(),
                    diagnosis.confidence
                ));
            }
        }
    }
    println!("benign.jsonl: {named}/{total} named a cause, none may be confident");
    assert_eq!(total, 20, "every benign case was read");
    assert_eq!(confident, Vec::<String>::new());
}

#[test]
fn error_conditions_of_other_tools_name_their_cause() {
    // Messages in the formats these tools print, for conditions dev.jsonl does not hold.
    let library = PatternLibrary::builtin().unwrap();
    let cases = [
        (
            "Get \"https://10.0.0.5/v2/\": dial tcp 10.0.0.5:443: i/o timeout",
            "timeout",
        ),
        (
            "W: GPG error: http://deb.example.org stable InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 0123456789ABCDEF",
            "credential",
        ),
        (
            "Caused by: java.net.UnknownHostException: db.internal: Name or service not known",
            "network",
        ),
        (
            "javax.net.ssl.SSLHandshakeException: PKIX path building failed: unable to find valid certification path to requested target",
            "network",
        ),
        ("error: linker `cc` not found", "package"),
        (
            "toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading",
            "resource_exhaustion",
        ),
        (
            "ERROR: Job failed: execution took longer than 1h0m0s seconds",
            "timeout",
        ),
        (
            "[ 2461.178353] INFO: task jbd2/sda1-8:312 blocked for more than 120 seconds.",
            "storage",
        ),
        (
            "/opt/app/bin/server: error while loading shared libraries: libssl.so.1.1: cannot open shared object file: No such file or directory",
            "package",
        ),
        (
            "Warning: Failed to pull image \"ghcr.io/acme/api:1.2\": no matching manifest for linux/arm64/v8 in the manifest list entries",
            "package",
        ),
        // The tool names who failed, the condition on the same line why (issue 9).
        (
            "qemu-system-aarch64: cannot set up guest memory 'ram': Cannot allocate memory",
            "resource_exhaustion",
        ),
        (
            "VBoxManage: error: Could not create the medium storage unit '/vms/a.vdi'. VBOX_E_FILE_ERROR (No space left on device)",
            "storage",
        ),
        // A test that failed on a refused connection: the service it needs is down.
        (
            "FAILED tests/test_orders.py::test_insert - ConnectionRefusedError: [Errno 111] Connection refused",
            "service_dependency",
        ),
        (
            "error: failed to connect to the hypervisor",
            "virtualization",
        ),
        (
            "error Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`.",
            "state_mismatch",
        ),
        (
            "error: the lock file /src/Cargo.lock needs to be updated but --locked was passed to prevent this",
            "state_mismatch",
        ),
        ("Unrecognized VM option 'UseFancyGC'", "configuration"),
        (
            "php: PHP Warning:  PHP Startup: Unable to load dynamic library 'redis.so'",
            "configuration",
        ),
        (
            "remote: Repository not found or you do not have access to it.",
            "package",
        ),
        (
            "script.pl: Execution of ./script.pl aborted due to compilation errors.",
            "build",
        ),
    ];
    for (line, cause) in cases {
        let diagnosis = diagnose_text(&library, format!("{line}\n").as_bytes());
        assert_eq!(
            diagnosis.root_cause.as_str(),
            cause,
            "{line}: {}",
            diagnosis.summary
        );
    }
}

/// The keyword classifier of seed 001 (`_classify_error`: first substring hit wins), its
/// error types mapped as generously as the taxonomy allows; a baseline to beat.
fn seed_keyword_classifier(log: &str) -> &'static str {
    let text = log.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|word| text.contains(word));
    if any(&["resource", "limit", "exhausted"]) {
        "resource_exhaustion"
    } else if any(&["connection", "timeout", "network"]) {
        "network"
    } else if any(&["conflict", "goal"]) {
        "state_mismatch"
    } else if any(&["performance", "slow"]) {
        "timeout"
    } else if any(&["config", "setting"]) {
        "configuration"
    } else {
        "unknown"
    }
}

/// Compares a log line with a marked chunk line: escapes, carriage returns and runs of
/// whitespace go. The LogChunks XML lost two things the logs hold, so both sides drop them:
/// the ESC byte of colour codes (a bare `[31m` is left in the chunk) and every `<`.
fn normalise(text: &str) -> String {
    let without_escapes = regex::Regex::new(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\[[0-9;]*[mK]")
        .unwrap()
        .replace_all(text, "");
    without_escapes
        .replace(['\r', '<'], "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The LogChunks repositories held out of tuning: those whose name (`owner@repo`) hashes
/// (FNV-1a, 64 bits) to 0 modulo 3. Chosen before the condition layers of issue 9 were
/// tuned; nothing is tuned on their logs, so the rate on them says how diagnosis does on
/// repositories it has not seen.
fn held_out_repository(name: &str) -> bool {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.is_multiple_of(3)
}

/// The fold [`held_out_repository`] picks, written out so that it cannot drift.
const HELD_OUT_REPOSITORIES: [&str; 17] = [
    "Alamofire@Alamofire",
    "angular@angular",
    "bcit-ci@CodeIgniter",
    "cmusatyalab@openface",
    "cplusplus@draft",
    "electron@electron",
    "emacs-tw@awesome-emacs",
    "ethereum@go-ethereum",
    "h4cc@awesome-elixir",
    "jwilm@alacritty",
    "martanne@vis",
    "phoenixframework@phoenix",
    "php@php-src",
    "rabbitmq@rabbitmq-server",
    "scikit-learn@scikit-learn",
    "twitter@AnomalyDetection",
    "vim@vim",
];

/// Whether one of the first three evidence lines of `log`'s diagnosis falls inside `chunk`.
fn evidence_inside_chunk(library: &PatternLibrary, log: &[u8], chunk: &str) -> bool {
    let chunk_lines: Vec<String> = chunk
        .lines()
        .map(normalise)
        .filter(|line| line.len() > 3)
        .collect();
    let diagnosis = diagnose_text(library, log);
    diagnosis.evidence.iter().take(3).any(|evidence| {
        let text = normalise(evidence.text.trim_end_matches('…'));
        !text.is_empty()
            && chunk_lines
                .iter()
                .any(|chunk| chunk.contains(&text) || text.contains(chunk.as_str()))
    })
}

#[test]
fn diagnosis_evidence_points_into_the_chunk_people_marked() {
    let library = PatternLibrary::builtin().unwrap();
    let dir = fixtures().join("logchunks");
    let index = std::fs::read_to_string(dir.join("chunks.jsonl")).unwrap();
    // (inside, total) on every repository and on the held-out fold.
    let (mut all, mut fold) = ((0, 0), (0, 0));
    let mut fold_repositories = std::collections::BTreeSet::new();
    for line in index.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let log_path = case["log"].as_str().unwrap();
        // `logs/<language>/<owner@repo>/failed/<job>.log`
        let repository = log_path.split('/').nth(2).unwrap();
        let log = std::fs::read(dir.join(log_path)).unwrap();
        let inside = usize::from(evidence_inside_chunk(
            &library,
            &log,
            case["chunk"].as_str().unwrap(),
        ));
        all = (all.0 + inside, all.1 + 1);
        if held_out_repository(repository) {
            fold_repositories.insert(repository.to_string());
            fold = (fold.0 + inside, fold.1 + 1);
        }
    }
    let rate = |(inside, total): (usize, usize)| inside as f64 / total as f64;
    println!(
        "LogChunks: one of the first three evidence lines inside the marked chunk for {}/{} logs = {:.3}; on the {} held-out repositories {}/{} = {:.3}",
        all.0,
        all.1,
        rate(all),
        fold_repositories.len(),
        fold.0,
        fold.1,
        rate(fold)
    );
    assert_eq!(all.1, 142);
    assert_eq!(fold.1, 51);
    assert_eq!(
        fold_repositories
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        HELD_OUT_REPOSITORIES
    );
    // Issue 9 asks for 0.85 on the repositories held out of tuning, not only on the whole.
    assert!(
        rate(all) >= 0.85,
        "evidence rate {:.3} fell below 0.85",
        rate(all)
    );
    assert!(
        rate(fold) >= 0.85,
        "evidence rate on the held-out repositories {:.3} is below 0.85",
        rate(fold)
    );
}

fn shared_corpus() -> Option<PathBuf> {
    let dir = medic_tests::workspace_root().join("../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "SKIPPED: ../shared/corpus is not beside this checkout; the loghub logs are research-only and are not copied into the project"
        );
        None
    }
}

fn files_under(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "log") {
            files.push(path);
        }
    }
}

#[test]
fn diagnosis_survives_every_corpus_log_and_prints_json() {
    let library = PatternLibrary::builtin().unwrap();
    let mut logs = Vec::new();
    files_under(&fixtures().join("logchunks/logs"), &mut logs);
    let shared = shared_corpus();
    if let Some(shared) = &shared {
        files_under(&shared.join("loghub"), &mut logs);
        files_under(&shared.join("ci-logs"), &mut logs);
    }
    for path in &logs {
        let diagnosis =
            diagnosis::diagnose_input(&library, std::fs::File::open(path).unwrap(), &[], 0.6)
                .unwrap()
                .0;
        let json = serde_json::to_string(&diagnosis).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(
            parsed["confidence"].as_f64().unwrap() <= 1.0,
            "{}",
            path.display()
        );
    }
    println!("diagnosed {} logs", logs.len());
    if let Some(shared) = shared {
        let expect = [
            ("OpenSSH", RootCause::Credential),
            ("Zookeeper", RootCause::Network),
            ("Apache", RootCause::ServiceDependency),
        ];
        for (name, cause) in expect {
            let path = shared.join(format!("loghub/{name}/{name}_2k.log"));
            let diagnosis =
                diagnosis::diagnose_input(&library, std::fs::File::open(&path).unwrap(), &[], 0.6)
                    .unwrap()
                    .0;
            assert_eq!(diagnosis.root_cause, cause, "{name}: {}", diagnosis.summary);
        }
        let path = shared.join("loghub/Hadoop/Hadoop_2k.log");
        let hadoop =
            diagnosis::diagnose_input(&library, std::fs::File::open(&path).unwrap(), &[], 0.6)
                .unwrap()
                .0;
        assert!(
            matches!(
                hadoop.root_cause,
                RootCause::Network | RootCause::ServiceDependency
            ),
            "Hadoop: {}",
            hadoop.summary
        );
    }
}

#[test]
fn diagnose_cli_prints_json_and_human_output() {
    let medic = medic();
    let log = medic.root().join("build.log");
    std::fs::write(&log, "\x1b[1mStep 3/7\x1b[0m\r\ncp: error writing '/var/lib/app/cache.bin': No space left on device\r\n").unwrap();
    let result = medic.run(&["diagnose", "--log", &log.display().to_string(), "--json"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let diagnosis = result.json();
    assert_eq!(diagnosis["root_cause"], "storage");
    // The line names the file, so the pattern that captures its path and directory leads.
    assert_eq!(diagnosis["evidence"][0]["pattern_id"], "storage.full-path");
    assert_eq!(diagnosis["evidence"][0]["line"], 2);
    assert_eq!(diagnosis["evidence"][0]["captures"]["dir"], "/var/lib/app");
    for key in [
        "confidence",
        "severity",
        "summary",
        "services",
        "recommended_actions",
        "alternatives",
    ] {
        assert!(!diagnosis[key].is_null(), "`{key}` is present");
    }
    let human = medic.run(&["diagnose", "--log", &log.display().to_string()]);
    assert!(
        human.stdout.starts_with("root cause: storage"),
        "{}",
        human.stdout
    );
    let nothing = medic.run(&["diagnose"]);
    assert_eq!(nothing.code, 2);
    assert!(
        nothing.stderr.contains("nothing to diagnose"),
        "{}",
        nothing.stderr
    );
    let missing = medic.run(&["diagnose", "--log", "/nonexistent/build.log"]);
    assert_eq!(missing.code, 2);
    assert_eq!(
        missing.stderr,
        "error: cannot open log: `/nonexistent/build.log` does not exist\n"
    );
}

/// Run medic with `stdin`, failing the test (not hanging it) if medic is still running
/// after a minute: what a FIFO without a writer would do to a plain open.
fn run_bounded(medic: &medic_tests::Medic, args: &[&str], stdin: &[u8]) -> medic_tests::RunResult {
    use std::io::Write as _;
    let mut child = medic
        .command(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("medic starts");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid fits in i32"));
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin).expect("medic reads its input");
    drop(input);
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match finished.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(output) => output.expect("medic's output"),
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            panic!("medic {args:?} was still running after a minute: it waited on its input");
        }
    };
    medic_tests::RunResult {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn inputs_an_operator_names_must_be_regular_files_never_waited_on_or_read_without_end() {
    let mut medic = medic();
    // A FIFO nobody writes to: a plain open would wait for a writer for ever.
    let fifo = medic.root().join("step.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo = fifo.display().to_string();
    let refused = |path: &str, kind: &str| {
        format!("`{path}` is a {kind}, not a regular file; medic never opens one")
    };
    let fifo_hint = |flag: &str| {
        format!("; to read a pipe, pass `{flag}` and connect the pipe to standard input")
    };
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["diagnose", "--log", &fifo],
            format!(
                "cannot open log: {}{}",
                refused(&fifo, "FIFO"),
                fifo_hint("--log -")
            ),
        ),
        (
            vec!["diagnose", "--log", "/dev/zero"],
            format!(
                "cannot open log: {}",
                refused("/dev/zero", "character device")
            ),
        ),
        (
            vec!["diagnose", "--alert", &fifo],
            format!("cannot read alert: {}", refused(&fifo, "FIFO")),
        ),
        (
            vec!["diagnose", "--alert", "/dev/zero"],
            format!(
                "cannot read alert: {}",
                refused("/dev/zero", "character device")
            ),
        ),
        (
            vec!["patterns", "test", &fifo],
            format!(
                "cannot open log: {}{}",
                refused(&fifo, "FIFO"),
                fifo_hint("-")
            ),
        ),
        (
            vec!["patterns", "test", "/dev/zero"],
            format!(
                "cannot open log: {}",
                refused("/dev/zero", "character device")
            ),
        ),
    ];
    for (args, message) in &cases {
        let result = run_bounded(&medic, args, b"");
        assert_eq!(result.code, 2, "{args:?}: {}", result.stderr);
        assert_eq!(result.stderr, format!("error: {message}\n"), "{args:?}");
    }

    // A pattern file in the operator's folder: a FIFO, then a link to /dev/zero.
    let dir = medic.root().join("patterns");
    std::fs::create_dir_all(&dir).unwrap();
    medic.config_extra(&format!(
        "[diagnosis]\npatterns_dir = \"{}\"",
        dir.display()
    ));
    std::fs::write(
        medic.config_path(),
        format!("[diagnosis]\npatterns_dir = \"{}\"\n", dir.display()),
    )
    .unwrap();
    let file = dir.join("mine.toml");
    let shown = file.display().to_string();
    nix::unistd::mkfifo(&file, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for (setup, kind) in [(None, "FIFO"), (Some("/dev/zero"), "character device")] {
        if let Some(target) = setup {
            std::fs::remove_file(&file).unwrap();
            std::os::unix::fs::symlink(target, &file).unwrap();
        }
        for args in [&["patterns", "list"][..], &["diagnose", "--log", "-"][..]] {
            let result = run_bounded(&medic, args, b"ok\n");
            assert_eq!(result.code, 2, "{args:?}: {}", result.stderr);
            assert_eq!(
                result.stderr,
                format!(
                    "error: cannot read pattern file: {}\n",
                    refused(&shown, kind)
                ),
                "{args:?}"
            );
        }
    }
}

#[test]
fn diagnose_reads_a_log_on_standard_input() {
    let medic = medic();
    let result = run_bounded(
        &medic,
        &["diagnose", "--log", "-", "--json"],
        b"step 1\ncp: error writing '/srv/out.bin': No space left on device\n",
    );
    assert_eq!(result.code, 0, "{}", result.stderr);
    let diagnosis = result.json();
    assert_eq!(diagnosis["root_cause"], "storage");
    assert_eq!(diagnosis["lines"], 2);
}

#[test]
fn diagnose_output_redacts_the_secrets_a_log_holds() {
    let medic = medic();
    let log = medic.root().join("deploy.log");
    std::fs::write(
        &log,
        "$ ./deploy.sh\n\
psql: error: FATAL:  password authentication failed for user \"app\" (PGPASSWORD=hunter2)\n\
curl: (22) The requested URL returned error: 401 (Authorization: Bearer abcdefghijklmnop1234)\n\
An error occurred (AccessDenied) for AKIAABCDEFGHIJKLMNOP: access denied\n\
The command \"./deploy.sh\" exited with 1.\n",
    )
    .unwrap();
    let path = log.display().to_string();
    let json = run_bounded(&medic, &["diagnose", "--log", &path, "--json"], b"");
    assert_eq!(json.code, 0, "{}", json.stderr);
    let diagnosis = json.json();
    assert_eq!(diagnosis["root_cause"], "credential", "{diagnosis:#}");
    let mut texts: Vec<(u64, String)> = diagnosis["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["line"].as_u64().unwrap(),
                item["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    texts.sort();
    texts.dedup();
    assert_eq!(
        texts,
        [
            // A value runs to the next space: the parenthesis goes with it.
            (
                2,
                "psql: error: FATAL:  password authentication failed for user \"app\" (PGPASSWORD=[REDACTED]".to_string()
            ),
            (
                3,
                "curl: (22) The requested URL returned error: 401 (Authorization: [REDACTED]".to_string()
            ),
            (
                4,
                "An error occurred (AccessDenied) for [REDACTED TOKEN]: access denied".to_string()
            ),
            (5, "The command \"./deploy.sh\" exited with 1.".to_string()),
        ]
    );
    let human = run_bounded(&medic, &["diagnose", "--log", &path], b"");
    assert_eq!(human.code, 0, "{}", human.stderr);
    for output in [&json.stdout, &human.stdout] {
        for secret in ["hunter2", "abcdefghijklmnop1234", "AKIAABCDEFGHIJKLMNOP"] {
            assert!(!output.contains(secret), "`{secret}` shown:\n{output}");
        }
    }
}

#[test]
fn diagnose_reads_the_wrapped_commands_exit_status() {
    let medic = medic();
    let log = medic.root().join("step.log");
    std::fs::write(&log, "building the index\n").unwrap();
    let cases = [
        (
            "137",
            "resource_exhaustion",
            "the command exited with 137: killed by SIGKILL (Killed) (supports resource_exhaustion)",
        ),
        (
            "124",
            "timeout",
            "the command exited with 124: the command timed out (GNU timeout) (supports timeout)",
        ),
    ];
    for (code, cause, signal) in cases {
        let result = medic.run(&[
            "diagnose",
            "--log",
            &log.display().to_string(),
            "--exit-code",
            code,
            "--json",
        ]);
        assert_eq!(result.code, 0, "{}", result.stderr);
        let diagnosis = result.json();
        assert_eq!(diagnosis["root_cause"], cause, "{diagnosis:#}");
        assert_eq!(diagnosis["signals"][0], signal, "{diagnosis:#}");
    }
    // A status with no shared meaning adds nothing.
    let result = medic.run(&["diagnose", "--exit-code", "1", "--json"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(result.json()["root_cause"], "unknown");
}

#[test]
fn diagnose_reads_alertmanager_payloads() {
    let medic = medic();
    let corpus = medic_tests::workspace_root().join("tests/fixtures/alertmanager");
    let alert = corpus.join("resolved_single_disk_space.json");
    let result = medic.run(&[
        "diagnose",
        "--alert",
        &alert.display().to_string(),
        "--json",
    ]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    assert_eq!(result.json()["root_cause"], "storage");
    let bad = medic.root().join("bad-alert.json");
    std::fs::write(&bad, r#"{"version": "4", "alerts": []}"#).unwrap();
    let result = medic.run(&["diagnose", "--alert", &bad.display().to_string()]);
    assert_eq!(result.code, 2);
    assert!(
        result.stderr.contains("`alerts` is empty"),
        "{}",
        result.stderr
    );
}

#[test]
fn patterns_cli_lists_and_tests_and_rejects_bad_files() {
    let mut medic = medic();
    let list = medic.run(&["patterns", "list", "--json"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let patterns = list.json()["patterns"].as_array().unwrap().len();
    assert!(patterns >= 80, "{patterns} built-in patterns");
    let log = medic.root().join("x.log");
    std::fs::write(
        &log,
        "ok\nfatal: unable to access 'https://example.com/': Could not resolve host: example.com\n",
    )
    .unwrap();
    let test = medic.run(&["patterns", "test", &log.display().to_string(), "--json"]);
    let hits = test.json()["hits"].as_array().unwrap().clone();
    assert!(
        hits.iter()
            .any(|hit| hit["pattern_id"] == "network.dns" && hit["line"] == 2),
        "{hits:?}"
    );

    let dir = medic.root().join("patterns");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mine.toml"), "[[pattern]]\nid = \"mine.bad\"\nregex = \"(unclosed\"\nroot_cause = \"storage\"\nseverity = \"high\"\ndescription = \"d\"\nhint = \"h\"\nweight = 1.0\n").unwrap();
    medic.config_extra(&format!(
        "[diagnosis]\npatterns_dir = \"{}\"",
        dir.display()
    ));
    std::fs::write(
        medic.config_path(),
        format!("[diagnosis]\npatterns_dir = \"{}\"\n", dir.display()),
    )
    .unwrap();
    let bad = medic.run(&["patterns", "list"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("mine.toml")
            && bad.stderr.contains("pattern `mine.bad`")
            && bad.stderr.contains("regex does not compile"),
        "{}",
        bad.stderr
    );
}

#[test]
fn context_reports_probes_logs_and_connectivity_and_feeds_diagnosis() {
    let medic = medic();
    let server = Server::start(|_, _, _| Reply::new(200, "ok"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app_log = medic.root().join("app.log");
    std::fs::write(&app_log, "starting\nready\nlast line\n").unwrap();
    let config = format!(
        "[context]\ntimeout = \"2s\"\n\
         [[context.probes]]\nname = \"web\"\nhttp = \"{url}\"\n\
         [[context.probes]]\nname = \"db\"\nservice = \"postgresql\"\ntcp = \"127.0.0.1:{closed}\"\n\
         [[context.probes]]\nname = \"true\"\ncommand = [\"/usr/bin/true\"]\n\
         [[context.logs]]\npath = \"{log}\"\nlines = 2\n\
         [[context.connectivity]]\nname = \"loopback\"\nhost = \"127.0.0.1\"\nport = {port}\n",
        url = server.url("/health"),
        log = app_log.display(),
        port = server.port()
    );
    std::fs::write(medic.config_path(), config).unwrap();
    let result = medic.run(&["context", "--json"]);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let context = result.json();
    let probes = context["services"].as_array().unwrap();
    let up: Vec<(&str, bool)> = probes
        .iter()
        .map(|probe| {
            (
                probe["name"].as_str().unwrap(),
                probe["up"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(up, [("web", true), ("db", false), ("true", true)]);
    assert_eq!(
        context["logs"][0]["lines"],
        serde_json::json!(["ready", "last line"])
    );
    assert_eq!(context["connectivity"][0]["reachable"], true);
    assert!(context["resources"]["memory_total_bytes"].as_u64().unwrap() > 0);
    assert!(!context["resources"]["disks"].as_array().unwrap().is_empty());

    let log = medic.root().join("job.log");
    std::fs::write(&log, "migrating...\nmigration step failed\n").unwrap();
    let diagnosis = medic
        .run(&[
            "diagnose",
            "--log",
            &log.display().to_string(),
            "--context",
            "--json",
        ])
        .json();
    assert_eq!(
        diagnosis["root_cause"], "service_dependency",
        "{diagnosis:#}"
    );
    assert!(
        diagnosis["services"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("postgresql"))
    );
}

#[test]
fn llm_advisor_is_asked_when_unsure_with_secrets_redacted() {
    let medic = medic();
    let answer = serde_json::json!({
        "choices": [{"message": {"role": "assistant", "content": "{\"root_cause\": \"configuration\", \"confidence\": 0.9, \"summary\": \"The deploy key file path is wrong.\", \"recommended_actions\": [\"Fix DEPLOY_KEY_PATH\"]}"}}]
    });
    let body = answer.to_string();
    let server = Server::start(move |_, _, _| Reply::new(200, &body));
    std::fs::write(
        medic.config_path(),
        format!("[diagnosis]\nllm_threshold = 0.6\n[diagnosis.llm]\nendpoint = \"{}\"\nmodel = \"test-model\"\ntimeout = \"5s\"\n", server.url("/v1/chat/completions")),
    )
    .unwrap();
    let log = medic.root().join("deploy.log");
    std::fs::write(&log, "deploying with DB_PASSWORD=hunter2secret\nstep 4 of 5\nERROR: deploy step did not complete\n").unwrap();
    let diagnosis = medic
        .run(&["diagnose", "--log", &log.display().to_string(), "--json"])
        .json();
    assert_eq!(server.hits(), ["POST /v1/chat/completions"]);
    let sent = &server.bodies()[0];
    assert!(
        sent.contains("deploy step did not complete") && sent.contains("test-model"),
        "{sent}"
    );
    assert!(
        !sent.contains("hunter2secret") && sent.contains("[REDACTED]"),
        "secrets are redacted: {sent}"
    );
    assert_eq!(diagnosis["root_cause"], "configuration", "{diagnosis:#}");
    assert_eq!(diagnosis["llm"]["root_cause_from_llm"], true);
    assert_eq!(diagnosis["llm"]["model"], "test-model");
    assert!(
        diagnosis["recommended_actions"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("llm: Fix DEPLOY_KEY_PATH"))
    );

    // No advisor configured: no call, and the output says confidence is low.
    let quiet = super::medic();
    let log = quiet.root().join("deploy.log");
    std::fs::write(&log, "ERROR: deploy step did not complete\n").unwrap();
    let diagnosis = quiet
        .run(&["diagnose", "--log", &log.display().to_string(), "--json"])
        .json();
    assert_eq!(diagnosis["low_confidence"], true);
    assert!(
        diagnosis["signals"]
            .to_string()
            .contains("no LLM advisor is configured"),
        "{diagnosis:#}"
    );
}
