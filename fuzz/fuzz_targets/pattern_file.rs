//! Arbitrary text as an operator's pattern file: parsing gives patterns or a typed error
//! naming what is wrong, never a panic; whatever parses compiles into a library (or fails
//! with an error) and scans the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medic::diagnosis::known_errors::{PatternLibrary, parse_pattern_file};
use medic::diagnosis::{ScanLimits, scan};

fuzz_target!(|text: &str| {
    let Ok(patterns) = parse_pattern_file(text, "fuzz.toml") else {
        return;
    };
    let Ok(library) = PatternLibrary::new(patterns) else {
        return;
    };
    let scanned = scan(&library, text.as_bytes(), ScanLimits::default()).unwrap();
    assert_eq!(scanned.hits.len(), library.patterns.len());
});
