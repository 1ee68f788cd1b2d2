//! One pass over a log for all patterns, in bounded memory, on every core.
//!
//! The log is cut into regions of whole lines (`blocks.rs`), matched in parallel and merged
//! in input order, with the same result as one pass: matching a line needs only the line,
//! its number and the lines above it, which each region carries. Each region is cleaned
//! (`clean.rs`); the library's literal automaton finds candidate lines across the whole
//! region, so lines that match nothing cost one automaton pass, and each candidate line is
//! confirmed with the regexes of the patterns whose literals it holds (see
//! `PatternLibrary::matching`). Invalid UTF-8 is matched as bytes and shown lossily.
//! Memory is bounded by the regions in flight plus a few kept lines per pattern, whatever
//! the log's size; a line longer than [`MAX_LINE`] is cut, and only the first
//! [`MATCHED_PREFIX`] bytes of a line are matched, so a megabyte of minified output on one
//! line costs no more than a short one.
//!
//! Each wrapper line ("The command ... exited with 1") is kept with the few lines above it,
//! read back from the region, and past its start from the lines the region carries: what
//! the failing step printed last.

use std::collections::VecDeque;
use std::io::Read;

use super::blocks::{self, Plan, Region};
use super::clean::clean;
use super::known_errors::PatternLibrary;

pub use super::blocks::MAX_LINE;
pub use super::clean::MATCHED_PREFIX;

/// Characters kept of an evidence line.
pub const MAX_TEXT: usize = 400;
/// Most recent hits kept per pattern.
const RECENT: usize = 3;
/// Last lines of the input kept (for the LLM advisor's prompt).
pub const TAIL_LINES: usize = 40;
/// Lines kept from above each wrapper line: what the failing step printed last.
pub const STEP_CONTEXT: usize = 3;
/// Lines looked at above a wrapper line to find [`STEP_CONTEXT`] that say something.
const STEP_LOOKBACK: usize = blocks::ABOVE;
/// Wrapper lines remembered, newest kept.
const STEP_ENDS: usize = 256;

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// 1-based line number.
    pub line: u64,
    /// The cleaned line, cut at [`MAX_TEXT`] characters.
    pub text: String,
}

/// What one pattern matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternHits {
    /// Matching lines.
    pub count: u64,
    /// The first.
    pub first: Option<Hit>,
    /// The last few, oldest first.
    pub recent: VecDeque<Hit>,
}

impl PatternHits {
    /// The last matching line.
    pub fn last(&self) -> Option<&Hit> {
        self.recent.back()
    }
}

/// A line reporting that a step failed ("The command ... exited with 1"), with the last
/// lines the step printed above it. Humans read those first when the failure itself says
/// nothing, as with a lint finding, a diff or a "please commit the changes" notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepEnd {
    /// The wrapper line.
    pub line: u64,
    /// Up to [`STEP_CONTEXT`] lines above it, nearest first, skipping blank lines, other
    /// wrapper lines and CI fold markers, and stopping at the step's own command line
    /// (`$ cmd`) or the end of the step before (`The command "..." exited with 0.`).
    pub before: Vec<Hit>,
    /// Whether it reports the whole job rather than a step ("Your build exited with 1").
    pub job_exit: bool,
}

/// Options for a scan.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanLimits {
    /// Also keep every hit, up to this many (for `medic patterns test`).
    pub keep_all: Option<usize>,
}

/// The result of a scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    /// Lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Per pattern, in library order.
    pub hits: Vec<PatternHits>,
    /// Every hit as (pattern index, hit), when asked for.
    pub all: Vec<(usize, Hit)>,
    /// The last [`TAIL_LINES`] lines, cleaned.
    pub tail: VecDeque<String>,
    /// The most recent wrapper lines with the output above them, oldest first.
    pub step_ends: VecDeque<StepEnd>,
}

/// Scan `input` with every pattern of `library`, on every core.
pub fn scan(
    library: &PatternLibrary,
    input: impl Read,
    limits: ScanLimits,
) -> std::io::Result<Scan> {
    scan_with(library, input, limits, Plan::default())
}

/// Scan `input` as [`scan`] does, reading and matching as `plan` says; the result is the
/// same whatever the plan.
pub fn scan_with(
    library: &PatternLibrary,
    input: impl Read,
    limits: ScanLimits,
    plan: Plan,
) -> std::io::Result<Scan> {
    let mut scan = Scan {
        hits: vec![PatternHits::default(); library.patterns.len()],
        ..Scan::default()
    };
    scan.bytes = blocks::drive(
        input,
        plan,
        |region| match_region(library, region, limits),
        |part| merge(&mut scan, part, limits),
    )?;
    Ok(scan)
}

/// What one region matched, with line numbers already absolute.
struct Part {
    lines_after: u64,
    hits: Vec<PatternHits>,
    all: Vec<(usize, Hit)>,
    tail: VecDeque<String>,
    step_ends: VecDeque<StepEnd>,
}

/// Add one region's findings, which follow everything merged so far.
fn merge(scan: &mut Scan, part: Part, limits: ScanLimits) {
    scan.lines = part.lines_after;
    for (kept, found) in scan.hits.iter_mut().zip(part.hits) {
        kept.count += found.count;
        if kept.first.is_none() {
            kept.first = found.first;
        }
        for hit in found.recent {
            if kept.recent.len() == RECENT {
                kept.recent.pop_front();
            }
            kept.recent.push_back(hit);
        }
    }
    if let Some(max) = limits.keep_all {
        let room = max.saturating_sub(scan.all.len());
        scan.all.extend(part.all.into_iter().take(room));
    }
    for line in part.tail {
        if scan.tail.len() == TAIL_LINES {
            scan.tail.pop_front();
        }
        scan.tail.push_back(line);
    }
    for step in part.step_ends {
        if scan.step_ends.len() == STEP_ENDS {
            scan.step_ends.pop_front();
        }
        scan.step_ends.push_back(step);
    }
}

/// Match one region of whole lines.
fn match_region(library: &PatternLibrary, region: &Region, limits: ScanLimits) -> Part {
    let mut cleaned = Vec::new();
    let text = clean(&region.bytes, &mut cleaned);
    let mut part = Part {
        lines_after: region.base_line + blocks::line_count(&region.bytes),
        hits: vec![PatternHits::default(); library.patterns.len()],
        all: Vec::new(),
        tail: VecDeque::new(),
        step_ends: VecDeque::new(),
    };
    keep_tail(text, &mut part.tail);
    let mut counted_to = 0;
    let mut line_number = region.base_line;
    let mut position = 0;
    while let Some((line_start, line_end)) = library.next_candidate(text, position) {
        line_number += memchr::memchr_iter(b'\n', &text[counted_to..line_start]).count() as u64;
        counted_to = line_start;
        let line = &text[line_start..line_end];
        let matched = library.matching(line);
        if !matched.is_empty() {
            let hit = Hit {
                line: line_number + 1,
                text: shown(line),
            };
            if matched
                .iter()
                .any(|index| library.patterns[*index].is_wrapper())
            {
                let before = lines_before(library, text, line_start, line_number, &region.above);
                if part.step_ends.len() == STEP_ENDS {
                    part.step_ends.pop_front();
                }
                part.step_ends.push_back(StepEnd {
                    line: hit.line,
                    before,
                    job_exit: matched
                        .iter()
                        .any(|index| library.patterns[*index].is_job_exit()),
                });
            }
            for &index in &matched {
                record(&mut part.hits[index], &hit);
                if let Some(max) = limits.keep_all
                    && part.all.len() < max
                {
                    part.all.push((index, hit.clone()));
                }
            }
        }
        position = line_end + 1;
        if position >= text.len() {
            break;
        }
    }
    part
}

/// The lines above the line starting at `line_start` (line `line_number + 1`) that say
/// something, nearest first; continues into `above` (the lines before the region, oldest
/// first) when the walk reaches the region's start.
fn lines_before(
    library: &PatternLibrary,
    region: &[u8],
    line_start: usize,
    line_number: u64,
    above: &[Vec<u8>],
) -> Vec<Hit> {
    let mut before = Vec::new();
    let mut end = line_start;
    let mut number = line_number;
    let mut looked = 0;
    while end > 0 && number > 0 && looked < STEP_LOOKBACK && before.len() < STEP_CONTEXT {
        let newline = end - 1;
        let start = memchr::memrchr(b'\n', &region[..newline]).map_or(0, |index| index + 1);
        if !step_line(library, &region[start..newline], number, &mut before) {
            return before;
        }
        end = start;
        number -= 1;
        looked += 1;
    }
    if end == 0 {
        for line in above.iter().rev() {
            if number == 0 || looked >= STEP_LOOKBACK || before.len() >= STEP_CONTEXT {
                break;
            }
            if !step_line(library, line, number, &mut before) {
                break;
            }
            number -= 1;
            looked += 1;
        }
    }
    before
}

/// Take line `number` into a step's last output unless it is noise; false when the walk
/// up must stop: at the step's own command line (kept) or the previous step's end.
fn step_line(library: &PatternLibrary, line: &[u8], number: u64, before: &mut Vec<Hit>) -> bool {
    let trimmed = line.trim_ascii();
    if trimmed.starts_with(b"The command \"") {
        return false;
    }
    if !is_step_noise(library, trimmed) {
        before.push(Hit {
            line: number,
            text: shown(line),
        });
    }
    !(trimmed.starts_with(b"$ ") || trimmed.starts_with(b"##[group]Run "))
}

/// Lines that say nothing about why a step failed: blank or punctuation only, CI fold and
/// timing markers, and other wrapper lines.
fn is_step_noise(library: &PatternLibrary, line: &[u8]) -> bool {
    let trimmed = line.trim_ascii();
    const MARKERS: [&[u8]; 3] = [b"travis_fold:", b"travis_time:", b"##[endgroup]"];
    !trimmed.iter().any(u8::is_ascii_alphanumeric)
        || MARKERS
            .iter()
            .any(|marker| memchr::memmem::find(trimmed, marker).is_some())
        || library
            .matching(trimmed)
            .iter()
            .any(|index| library.patterns[*index].is_wrapper())
}

/// Append the last lines of `region` to `tail`, keeping [`TAIL_LINES`].
fn keep_tail(region: &[u8], tail: &mut VecDeque<String>) {
    if region.is_empty() {
        return;
    }
    // Every line, empty ones too: `a\n` is one line, `\n` one empty line.
    let body = region.strip_suffix(b"\n").unwrap_or(region);
    let start = memchr::memrchr_iter(b'\n', body)
        .nth(TAIL_LINES - 1)
        .map_or(0, |newline| newline + 1);
    for line in body[start..].split(|byte| *byte == b'\n') {
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(shown(line));
    }
}

fn record(hits: &mut PatternHits, hit: &Hit) {
    hits.count += 1;
    if hits.first.is_none() {
        hits.first = Some(hit.clone());
    }
    if hits.recent.len() == RECENT {
        hits.recent.pop_front();
    }
    hits.recent.push_back(hit.clone());
}

fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    match text.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy as _;

    use super::*;
    use crate::diagnosis::blocks::BLOCK;

    fn library() -> &'static PatternLibrary {
        static LIBRARY: std::sync::OnceLock<PatternLibrary> = std::sync::OnceLock::new();
        LIBRARY.get_or_init(|| PatternLibrary::builtin().unwrap())
    }

    fn ids(library: &PatternLibrary, text: &[u8]) -> Vec<(String, u64)> {
        let scan = scan(
            library,
            text,
            ScanLimits {
                keep_all: Some(100),
            },
        )
        .unwrap();
        scan.all
            .iter()
            .map(|(index, hit)| (library.patterns[*index].id.clone(), hit.line))
            .collect()
    }

    #[test]
    fn matches_through_ansi_crlf_and_redraws() {
        let library = library();
        let text = b"ok\r\n\x1b[31mcp: error writing 'x': No space left on device\x1b[0m\r\nprogress 10%\rprogress 100%\rcurl: (6) Could not resolve host: example.invalid\n";
        let found = ids(library, text);
        assert!(
            found.contains(&("storage.enospc".to_string(), 2)),
            "{found:?}"
        );
        assert!(found.contains(&("network.dns".to_string(), 3)), "{found:?}");
        let scanned = scan(library, &text[..], ScanLimits::default()).unwrap();
        assert_eq!(scanned.lines, 3);
        let hit = scanned.hits[library
            .patterns
            .iter()
            .position(|p| p.id == "network.dns")
            .unwrap()]
        .last()
        .cloned()
        .unwrap();
        assert_eq!(
            hit.text, "curl: (6) Could not resolve host: example.invalid",
            "the redrawn line shows its last state"
        );
    }

    #[test]
    fn counts_lines_across_blocks_and_without_a_final_newline() {
        let library = library();
        let mut text = Vec::new();
        for index in 0..300_000 {
            text.extend_from_slice(format!("line {index} is fine\n").as_bytes());
        }
        text.extend_from_slice(b"fatal: unable to access: Connection refused");
        let scanned = scan(library, &text[..], ScanLimits { keep_all: Some(10) }).unwrap();
        assert_eq!(scanned.lines, 300_001);
        assert_eq!(
            scanned.all.iter().map(|(_, hit)| hit.line).max(),
            Some(300_001)
        );
    }

    #[test]
    fn invalid_utf8_and_huge_lines_are_tolerated() {
        let library = library();
        let mut text = vec![0xff, 0xfe, b'\n'];
        text.extend(std::iter::repeat_n(b'a', 3 * MAX_LINE));
        text.extend_from_slice(b"\nsegmentation fault \xff\n");
        let scanned = scan(library, &text[..], ScanLimits { keep_all: Some(10) }).unwrap();
        assert!(
            scanned.all.iter().any(
                |(index, hit)| library.patterns[*index].id == "unknown.crash"
                    && hit.text.starts_with("segmentation fault")
            )
        );
    }

    /// A step end as (wrapper line, [(line, text)] above it, job exit).
    type Step = (u64, Vec<(u64, String)>, bool);

    #[test]
    fn an_escape_cut_by_a_newline_keeps_the_newline() {
        // Found by the log_reader fuzz target in a Travis log: `ESC [` then a newline.
        let text = b"first\x1b[\nsecond: No space left on device\nthird\x1b[33\nfourth\x1b\n";
        let scanned = scan(library(), &text[..], ScanLimits { keep_all: Some(10) }).unwrap();
        assert_eq!(scanned.lines, 4);
        assert!(
            scanned
                .all
                .iter()
                .any(|(_, hit)| hit.line == 2 && hit.text == "second: No space left on device"),
            "{:?}",
            scanned.all
        );
    }

    fn step_ends(text: &[u8]) -> Vec<Step> {
        let scanned = scan(library(), text, ScanLimits::default()).unwrap();
        scanned
            .step_ends
            .iter()
            .map(|step| {
                let before = step
                    .before
                    .iter()
                    .map(|hit| (hit.line, hit.text.clone()))
                    .collect();
                (step.line, before, step.job_exit)
            })
            .collect()
    }

    #[test]
    fn a_wrapper_line_keeps_what_the_step_printed_last() {
        let text = b"$ npm run lint\n> lint\n\xe2\x9c\x96 Variable $x is not being used!\n- \n\n\
npm ERR! code ELIFECYCLE\nThe command \"npm run lint\" exited with 1.\n\
travis_fold:start:cache\ncache uploaded\nDone. Your build exited with 1.\n";
        let found = step_ends(text);
        assert_eq!(found.len(), 3, "{found:?}");
        // Blank and punctuation-only lines are skipped; the walk stops at the command.
        assert_eq!(
            found[0],
            (
                6,
                vec![
                    (3, "✖ Variable $x is not being used!".to_string()),
                    (2, "> lint".to_string()),
                    (1, "$ npm run lint".to_string()),
                ],
                false
            )
        );
        // Another wrapper line above is not output.
        assert_eq!(found[1].1[0].0, 3);
        assert_eq!(found[2].0, 10);
        assert!(found[2].2, "the job-level line is marked");
        assert_eq!(found[2].1, vec![(9, "cache uploaded".to_string())]);
    }

    #[test]
    fn the_walk_up_stops_at_the_previous_step() {
        let text =
            b"old output\nThe command \"make deps\" exited with 0.\nmake: *** [all] Error 2\n";
        let found = step_ends(text);
        assert_eq!(found, vec![(3, vec![], false)]);
    }

    #[test]
    fn a_wrapper_opening_a_block_reads_back_into_the_previous_one() {
        let mut text = Vec::new();
        let filler = b"ordinary line of build output\n";
        while text.len() + filler.len() < BLOCK - 40 {
            text.extend_from_slice(filler);
        }
        let mut last = b"diff: README.md differs".to_vec();
        last.resize(BLOCK - text.len() - 1, b' ');
        text.extend_from_slice(&last);
        text.push(b'\n');
        assert_eq!(text.len(), BLOCK);
        text.extend_from_slice(b"The command \"./check.sh\" exited with 1.\n");
        let lines = text.iter().filter(|byte| **byte == b'\n').count() as u64;
        let found = step_ends(&text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, lines);
        assert_eq!(
            found[0].1[0],
            (lines - 1, "diff: README.md differs".to_string())
        );
        assert_eq!(found[0].1.len(), STEP_CONTEXT);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..proptest::prelude::ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic_the_matcher(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            let library = library();
            let scanned = scan(library, &bytes[..], ScanLimits { keep_all: Some(50) }).unwrap();
            let newlines = bytes.iter().filter(|byte| **byte == b'\n').count() as u64;
            proptest::prop_assert!(scanned.lines == newlines || scanned.lines == newlines + 1);
            let diagnosis = crate::diagnosis::score(library, &scanned, &[], 0.6);
            proptest::prop_assert!((0.0..=1.0).contains(&diagnosis.confidence));
        }

        /// Cut anywhere, on any number of threads, a log scans as in one pass.
        #[test]
        fn any_cut_and_thread_count_gives_the_one_pass_result(
            lines in proptest::collection::vec(awkward_line(), 0..60),
            block in 1usize..200,
            threads in 1usize..4,
        ) {
            let text: Vec<u8> = lines.concat();
            let limits = ScanLimits { keep_all: Some(1000) };
            let one = scan_with(library(), &text[..], limits, Plan { block: BLOCK, threads: 1 }).unwrap();
            let cut = scan_with(library(), &text[..], limits, Plan { block, threads }).unwrap();
            proptest::prop_assert_eq!(&one.all, &cut.all, "{:?}", String::from_utf8_lossy(&text));
            proptest::prop_assert_eq!(&one.step_ends, &cut.step_ends, "{:?}", String::from_utf8_lossy(&text));
            proptest::prop_assert_eq!(&one.tail, &cut.tail, "{:?}", String::from_utf8_lossy(&text));
            proptest::prop_assert_eq!(one, cut);
        }
    }

    /// Lines of the kinds that cross region edges badly: wrappers, step commands, blank and
    /// noise lines, errors, escapes, carriage returns, no final newline.
    fn awkward_line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        proptest::prop_oneof![
            proptest::strategy::Just(b"The command \"make\" exited with 1.\n".to_vec()),
            proptest::strategy::Just(b"make: *** [all] Error 2\n".to_vec()),
            proptest::strategy::Just(b"$ make test\n".to_vec()),
            proptest::strategy::Just(b"\n".to_vec()),
            proptest::strategy::Just(b"travis_fold:end:x\r\n".to_vec()),
            proptest::strategy::Just(b"cp: error writing 'x': No space left on device\n".to_vec()),
            proptest::strategy::Just(b"\x1b[31mFAILED tests/a.py::t\x1b[0m\r\n".to_vec()),
            proptest::strategy::Just(b"10%\r100%\rdiff: README.md differs\n".to_vec()),
            proptest::strategy::Just(b"Done. Your build exited with 1.\n".to_vec()),
            proptest::strategy::Just(b"no newline at the end".to_vec()),
            "[a-z ]{0,30}\n".prop_map(String::into_bytes),
        ]
    }

    #[test]
    fn real_logs_cut_at_every_block_size_scan_as_in_one_pass() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
        let mut text = Vec::new();
        for case in std::fs::read_to_string(format!("{fixtures}/failures/dev.jsonl"))
            .unwrap()
            .lines()
        {
            let case: serde_json::Value = serde_json::from_str(case).unwrap();
            text.extend_from_slice(case["log"].as_str().unwrap().as_bytes());
            text.push(b'\n');
        }
        let index = std::fs::read_to_string(format!("{fixtures}/logchunks/chunks.jsonl")).unwrap();
        for case in index.lines().step_by(7) {
            let case: serde_json::Value = serde_json::from_str(case).unwrap();
            let path = format!("{fixtures}/logchunks/{}", case["log"].as_str().unwrap());
            text.extend_from_slice(&std::fs::read(path).unwrap());
        }
        let limits = ScanLimits {
            keep_all: Some(100_000),
        };
        let one = scan_with(
            library(),
            &text[..],
            limits,
            Plan {
                block: BLOCK,
                threads: 1,
            },
        )
        .unwrap();
        assert!(one.all.len() > 500, "{} hits", one.all.len());
        for (block, threads) in [
            (1, 2),
            (97, 3),
            (4096, 2),
            (65_536, 2),
            (BLOCK, 2),
            (3 * BLOCK, 4),
        ] {
            let cut = scan_with(library(), &text[..], limits, Plan { block, threads }).unwrap();
            assert!(one == cut, "block {block}, {threads} threads");
        }
    }
}
