//! One pass over a log for all patterns, in bounded memory.
//!
//! The input is read in blocks; each block is cleaned (ANSI escape sequences removed,
//! `\r\n` made `\n`, and for a line redrawn with lone `\r`s only its last state kept, as a
//! terminal shows it). One regex holding every pattern finds candidate lines across the
//! whole block, so lines that match nothing cost one automaton pass; each candidate line
//! is then run through the candidate set, and the few patterns it flags are confirmed
//! exactly (see `PatternLibrary::matching`). Invalid UTF-8
//! is matched as bytes and shown lossily. Memory is bounded by the block size plus a few
//! kept lines per pattern, whatever the log's size; a line longer than [`MAX_LINE`] is
//! split, and only the first [`MATCHED_PREFIX`] bytes of a line are matched, so a
//! megabyte of minified output on one line costs no more than a short one.
//!
//! Each wrapper line ("The command ... exited with 1") is kept with the few lines above it,
//! read back from the block already in memory: what the failing step printed last.

use std::collections::VecDeque;
use std::io::Read;

use super::known_errors::PatternLibrary;

/// Bytes read per block.
const BLOCK: usize = 1 << 20;
/// Longest line considered whole; longer ones are split.
pub const MAX_LINE: usize = 256 << 10;
/// Bytes of each line that patterns see; error messages start at the front of a line,
/// and a cap keeps matching linear however long a line is.
pub const MATCHED_PREFIX: usize = 4096;
/// Characters kept of an evidence line.
pub const MAX_TEXT: usize = 400;
/// Most recent hits kept per pattern.
const RECENT: usize = 3;
/// Last lines of the input kept (for the LLM advisor's prompt).
pub const TAIL_LINES: usize = 40;
/// Lines kept from above each wrapper line: what the failing step printed last.
pub const STEP_CONTEXT: usize = 3;
/// Lines looked at above a wrapper line to find [`STEP_CONTEXT`] that say something.
const STEP_LOOKBACK: usize = 12;
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
#[derive(Debug, Clone, Default)]
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

/// Scan `input` with every pattern of `library`.
pub fn scan(
    library: &PatternLibrary,
    mut input: impl Read,
    limits: ScanLimits,
) -> std::io::Result<Scan> {
    let mut scan = Scan {
        hits: vec![PatternHits::default(); library.patterns.len()],
        ..Scan::default()
    };
    let mut buffer: Vec<u8> = Vec::with_capacity(BLOCK + MAX_LINE);
    let mut cleaned: Vec<u8> = Vec::with_capacity(BLOCK + MAX_LINE);
    let mut chunk = vec![0u8; BLOCK];
    let mut at_eof = false;
    while !at_eof {
        let read = read_full(&mut input, &mut chunk)?;
        at_eof = read == 0;
        scan.bytes += read as u64;
        buffer.extend_from_slice(&chunk[..read]);
        // Process every complete line; keep a partial last line for the next block, unless
        // it is already too long or the input ended.
        let end = match memchr::memrchr(b'\n', &buffer) {
            _ if at_eof => buffer.len(),
            Some(newline) => newline + 1,
            None if buffer.len() >= MAX_LINE => buffer.len(),
            None => continue,
        };
        if end == 0 {
            continue;
        }
        let region = clean(&buffer[..end], &mut cleaned);
        match_region(library, region, &mut scan, limits);
        buffer.drain(..end);
    }
    Ok(scan)
}

fn read_full(input: &mut impl Read, chunk: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < chunk.len() {
        match input.read(&mut chunk[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Match one cleaned region of whole lines, updating line counts and hits.
fn match_region(library: &PatternLibrary, region: &[u8], scan: &mut Scan, limits: ScanLimits) {
    let base_line = scan.lines;
    let mut counted_to = 0;
    let mut line_number = base_line;
    let mut position = 0;
    let mut matched: Vec<usize> = Vec::new();
    while position < region.len() {
        let Some(found) = library.any.find_at(region, position) else {
            break;
        };
        let line_start =
            memchr::memrchr(b'\n', &region[..found.start()]).map_or(0, |index| index + 1);
        let line_start = line_start.max(position);
        let line_end = memchr::memchr(b'\n', &region[found.start()..])
            .map_or(region.len(), |index| found.start() + index);
        line_number += memchr::memchr_iter(b'\n', &region[counted_to..line_start]).count() as u64;
        counted_to = line_start;
        let line = &region[line_start..line_end];
        matched.clear();
        matched.extend(library.matching(line));
        if !matched.is_empty() {
            let hit = Hit {
                line: line_number + 1,
                text: shown(line),
            };
            if matched
                .iter()
                .any(|index| library.patterns[*index].is_wrapper())
            {
                let before = lines_before(library, region, line_start, line_number, &scan.tail);
                if scan.step_ends.len() == STEP_ENDS {
                    scan.step_ends.pop_front();
                }
                scan.step_ends.push_back(StepEnd {
                    line: hit.line,
                    before,
                    job_exit: matched
                        .iter()
                        .any(|index| library.patterns[*index].is_job_exit()),
                });
            }
            for &index in &matched {
                record(&mut scan.hits[index], &hit);
                if let Some(max) = limits.keep_all
                    && scan.all.len() < max
                {
                    scan.all.push((index, hit.clone()));
                }
            }
        }
        position = line_end + 1;
    }
    keep_tail(region, &mut scan.tail);
    let newlines = memchr::memchr_iter(b'\n', region).count() as u64;
    let unterminated = u64::from(!region.is_empty() && !region.ends_with(b"\n"));
    scan.lines = base_line + newlines + unterminated;
}

/// The lines above the line starting at `line_start` (line `line_number + 1`) that say
/// something, nearest first; continues into `tail` (the previous blocks' last lines) when
/// the line is the first of its block.
fn lines_before(
    library: &PatternLibrary,
    region: &[u8],
    line_start: usize,
    line_number: u64,
    tail: &VecDeque<String>,
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
        for text in tail.iter().rev() {
            if number == 0 || looked >= STEP_LOOKBACK || before.len() >= STEP_CONTEXT {
                break;
            }
            if !step_line(library, text.as_bytes(), number, &mut before) {
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
            .any(|index| library.patterns[index].is_wrapper())
}

/// Append the last lines of `region` to `tail`, keeping [`TAIL_LINES`].
fn keep_tail(region: &[u8], tail: &mut VecDeque<String>) {
    let body = region.strip_suffix(b"\n").unwrap_or(region);
    if body.is_empty() {
        return;
    }
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

/// Remove ANSI escapes and carriage returns from `raw` and cut lines to
/// [`MATCHED_PREFIX`]; borrows it untouched when there is nothing to do.
fn clean<'a>(raw: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
    if memchr::memchr2(0x1b, b'\r', raw).is_none() && !has_long_line(raw) {
        return raw;
    }
    out.clear();
    let mut line_start = 0;
    let mut index = 0;
    while index < raw.len() {
        let byte = raw[index];
        match byte {
            0x1b => index = skip_escape(raw, index),
            b'\r' if raw.get(index + 1) == Some(&b'\n') => index += 1,
            b'\r' => {
                // A redraw: keep what follows, unless nothing visible follows on this line.
                let rest_end = memchr::memchr(b'\n', &raw[index + 1..])
                    .map_or(raw.len(), |offset| index + 1 + offset);
                let rest = &raw[index + 1..rest_end];
                if rest
                    .iter()
                    .any(|byte| !byte.is_ascii_whitespace() && *byte != 0x1b && *byte != b'\r')
                {
                    out.truncate(line_start);
                }
                index += 1;
            }
            b'\n' => {
                out.push(b'\n');
                line_start = out.len();
                index += 1;
            }
            _ if out.len() - line_start >= MATCHED_PREFIX => {
                index =
                    memchr::memchr(b'\n', &raw[index..]).map_or(raw.len(), |offset| index + offset);
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    out
}

fn has_long_line(raw: &[u8]) -> bool {
    let mut start = 0;
    for newline in memchr::memchr_iter(b'\n', raw) {
        if newline - start > MATCHED_PREFIX {
            return true;
        }
        start = newline + 1;
    }
    raw.len() - start > MATCHED_PREFIX
}

/// The index just past the escape sequence starting at `start` (CSI, OSC or two-byte).
fn skip_escape(raw: &[u8], start: usize) -> usize {
    match raw.get(start + 1) {
        Some(b'[') => {
            let mut index = start + 2;
            while index < raw.len() && !(0x40..=0x7e).contains(&raw[index]) && raw[index] != b'\n' {
                index += 1;
            }
            // A sequence cut short by the end of the line ends there; the newline is kept.
            match raw.get(index) {
                Some(b'\n') | None => index,
                Some(_) => index + 1,
            }
        }
        Some(b']') => {
            let mut index = start + 2;
            while index < raw.len()
                && raw[index] != 0x07
                && raw[index] != b'\n'
                && !(raw[index] == 0x1b && raw.get(index + 1) == Some(&b'\\'))
            {
                index += 1;
            }
            match raw.get(index) {
                Some(0x07) => index + 1,
                Some(0x1b) => index + 2,
                _ => index,
            }
        }
        Some(b'\n') | None => start + 1,
        Some(_) => start + 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

        #[test]
        fn escapes_and_carriage_returns_never_panic_the_cleaner(text in "[\\x1b\\r\\n\\[\\]a-z0-9;:\\x07 ]{0,300}") {
            let mut out = Vec::new();
            let cleaned = clean(text.as_bytes(), &mut out);
            proptest::prop_assert!(!cleaned.contains(&b'\r'));
        }
    }
}
