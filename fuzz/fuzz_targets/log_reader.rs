//! Arbitrary bytes as a log: the reader (ANSI and carriage-return cleaning, block and line
//! splitting, step context) and the scoring never panic, count every line, and give a
//! confidence in [0, 1] with evidence lines inside the input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use medic::diagnosis::known_errors::PatternLibrary;
use medic::diagnosis::{ScanLimits, scan, score};

fuzz_target!(|bytes: &[u8]| {
    static LIBRARY: OnceLock<PatternLibrary> = OnceLock::new();
    let library = LIBRARY.get_or_init(|| PatternLibrary::builtin().unwrap());
    let scanned = scan(
        library,
        bytes,
        ScanLimits {
            keep_all: Some(100),
        },
    )
    .unwrap();
    let newlines = bytes.iter().filter(|byte| **byte == b'\n').count() as u64;
    assert!(scanned.lines == newlines || scanned.lines == newlines + 1);
    let diagnosis = score(library, &scanned, &[], 0.6);
    assert!((0.0..=1.0).contains(&diagnosis.confidence));
    for evidence in &diagnosis.evidence {
        assert!(evidence.line >= 1 && evidence.line <= scanned.lines.max(1));
    }
});
