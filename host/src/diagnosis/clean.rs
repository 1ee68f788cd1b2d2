//! Cleaning a log as a terminal shows it: ANSI escape sequences removed, `\r\n` made
//! `\n`, and for a line redrawn with lone `\r`s only its last state kept; each line is cut
//! to the [`MATCHED_PREFIX`] bytes that patterns see.
//!
//! Cleaning is line-local: no escape sequence or redraw reaches past a newline, so
//! cleaning a text gives the same lines as cleaning each of its lines alone. The parallel
//! scan relies on that to cut a log anywhere between lines (`blocks.rs`).

/// Bytes of each line that patterns see; error messages start at the front of a line,
/// and a cap keeps matching linear however long a line is.
pub const MATCHED_PREFIX: usize = 4096;

/// Remove ANSI escapes and carriage returns from `raw` and cut lines to
/// [`MATCHED_PREFIX`]; borrows it untouched when there is nothing to do.
pub(crate) fn clean<'a>(raw: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
    if memchr::memchr2(0x1b, b'\r', raw).is_none() && !has_long_line(raw) {
        return raw;
    }
    out.clear();
    let mut line_start = 0;
    let mut index = 0;
    // For the line being redrawn: where it ends and its last visible byte, found once per
    // line, so a progress bar redrawn thousands of times on one line stays linear.
    let mut line_end = 0;
    let mut last_visible: Option<usize> = None;
    while index < raw.len() {
        let byte = raw[index];
        match byte {
            0x1b => index = skip_escape(raw, index),
            b'\r' if raw.get(index + 1) == Some(&b'\n') => index += 1,
            b'\r' => {
                // A redraw: keep what follows, unless nothing visible follows on this line.
                if line_end <= index {
                    line_end = memchr::memchr(b'\n', &raw[index + 1..])
                        .map_or(raw.len(), |offset| index + 1 + offset);
                    last_visible = raw[index + 1..line_end]
                        .iter()
                        .rposition(|byte| {
                            !byte.is_ascii_whitespace() && *byte != 0x1b && *byte != b'\r'
                        })
                        .map(|offset| index + 1 + offset);
                }
                if last_visible.is_some_and(|visible| visible > index) {
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..proptest::prelude::ProptestConfig::default() })]

        #[test]
        fn escapes_and_carriage_returns_never_panic_the_cleaner(text in "[\\x1b\\r\\n\\[\\]a-z0-9;:\\x07 ]{0,300}") {
            let mut out = Vec::new();
            let cleaned = clean(text.as_bytes(), &mut out);
            proptest::prop_assert!(!cleaned.contains(&b'\r'));
        }

        /// Cleaning the whole text gives the lines that cleaning each line alone gives.
        #[test]
        fn cleaning_is_line_local(text in "[\\x1b\\r\\n\\[\\]a-z0-9;:\\x07 ]{0,300}") {
            let mut whole_out = Vec::new();
            let whole = clean(text.as_bytes(), &mut whole_out).to_vec();
            let mut joined = Vec::new();
            for line in text.as_bytes().split_inclusive(|byte| *byte == b'\n') {
                let mut out = Vec::new();
                joined.extend_from_slice(clean(line, &mut out));
            }
            proptest::prop_assert_eq!(whole, joined);
        }
    }

    #[test]
    fn a_redraw_keeps_the_last_visible_state() {
        let mut out = Vec::new();
        assert_eq!(
            clean(b"10%\r50%\r100%  \r  \nnext\n", &mut out),
            b"100%    \nnext\n"
        );
    }

    /// A progress bar redrawn on one line, many times: linear, not once per redraw.
    #[test]
    fn many_redraws_on_one_line_clean_in_linear_time() {
        let mut line = Vec::new();
        for percent in 0..200_000u32 {
            line.extend_from_slice(format!("\r{}%", percent % 100).as_bytes());
        }
        line.extend_from_slice(b"\rdone\n");
        // Quadratic (a scan of the rest of the line at each redraw), this took minutes.
        let mut out = Vec::new();
        assert_eq!(clean(&line, &mut out), b"done\n");
    }
}
