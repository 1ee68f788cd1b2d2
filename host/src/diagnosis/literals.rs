//! Which literals every match of a regex contains: the prefilter that lets the pattern
//! library find candidate lines with one Aho-Corasick pass and compile a pattern's regex
//! only when a line might match it.
//!
//! [`required_literals`] walks a regex's syntax tree and returns a set of byte strings,
//! ASCII-lowercased, such that every match of the regex contains at least one of them
//! (compared ASCII-case-insensitively). It is sound by construction: a match of a
//! concatenation contains a match of each of its parts and of each run of consecutive
//! parts; a match of an alternation is a match of one branch; a repetition at least once
//! contains a match of what it repeats. Look-arounds (`^`, `$`, `\b`) are zero-width, so
//! they add nothing to a literal. Only the choice between sound sets is a heuristic (the
//! longest shortest member). It knows nothing of files, lines or scoring.

use std::collections::BTreeSet;

use regex_syntax::hir::{Class, Hir, HirKind};

/// A set of literals, ASCII-lowercased.
type Set = BTreeSet<Vec<u8>>;

/// Most members of a finite language expanded for a run of a concatenation: a class of a
/// few bytes or a short optional part multiplies it; past this the run is closed.
const MAX_EXACT: usize = 64;
/// Most members of a required set (an alternation of many words holds one per word).
const MAX_REQUIRED: usize = 512;
/// A class of at most this many distinct bytes or characters (after case folding) is
/// expanded.
const MAX_CLASS: usize = 4;
/// Bytes kept of each literal.
const MAX_LITERAL: usize = 10;
/// A bounded repeat of at most this many copies is expanded.
const MAX_REPEAT: u32 = 3;

/// Literals every match of `hir` contains, ASCII-lowercased, none empty; `None` when no
/// such set could be found (the regex may match without any fixed text).
pub(crate) fn required_literals(hir: &Hir) -> Option<BTreeSet<Vec<u8>>> {
    // A prefix of a required literal is required too; a short one keeps the automaton
    // small (it is built at every start) and is selective enough.
    let set: Set = required(hir)
        .filter(useful)?
        .into_iter()
        .map(|mut member| {
            member.truncate(MAX_LITERAL);
            member
        })
        .collect();
    // A member holding another member adds nothing: a line with it has the other too.
    let minimal = set
        .iter()
        .filter(|member| {
            !set.iter().any(|other| {
                other.len() < member.len() && memchr::memmem::find(member, other).is_some()
            })
        })
        .cloned()
        .collect();
    Some(minimal)
}

/// The length of the shortest member: the prefilter's selectivity, roughly.
pub(crate) fn shortest(set: &BTreeSet<Vec<u8>>) -> usize {
    set.iter().map(Vec::len).min().unwrap_or(0)
}

fn required(hir: &Hir) -> Option<Set> {
    if let Some(set) = exact(hir)
        && useful(&set)
    {
        return Some(set);
    }
    match hir.kind() {
        HirKind::Capture(capture) => required(&capture.sub),
        HirKind::Repetition(repetition) if repetition.min >= 1 => {
            // `x{n,}` holds n copies of `x` in a row.
            let copies = repetition.min.min(MAX_REPEAT);
            let repeated = exact(&repetition.sub).and_then(|once| {
                (1..copies).try_fold(once.clone(), |so_far, _| product(&so_far, &once))
            });
            match repeated {
                Some(set) if useful(&set) => Some(set),
                _ => required(&repetition.sub),
            }
        }
        HirKind::Alternation(branches) => {
            let mut union = Set::new();
            for branch in branches {
                union.extend(required(branch)?);
                if union.len() > MAX_REQUIRED {
                    return None;
                }
            }
            Some(union)
        }
        HirKind::Concat(parts) => best_of_concat(parts),
        _ => None,
    }
}

/// The best sound set for a concatenation: a run of consecutive parts whose languages are
/// finite and small, expanded, or one part's own required set.
fn best_of_concat(parts: &[Hir]) -> Option<Set> {
    let mut best: Option<Set> = None;
    let mut consider = |set: Set| {
        if useful(&set) && best.as_ref().is_none_or(|kept| better(&set, kept)) {
            best = Some(set);
        }
    };
    let mut run: Option<Set> = None;
    for part in parts {
        match exact(part) {
            Some(language) => {
                let extended = match &run {
                    None => Some(language.clone()),
                    Some(so_far) => product(so_far, &language),
                };
                match extended {
                    Some(set) => run = Some(set),
                    None => {
                        // Too many members: close the run and start anew with this part.
                        if let Some(closed) = run.take() {
                            consider(closed);
                        }
                        run = Some(language);
                    }
                }
            }
            None => {
                if let Some(closed) = run.take() {
                    consider(closed);
                }
                if let Some(set) = required(part) {
                    consider(set);
                }
            }
        }
    }
    if let Some(closed) = run {
        consider(closed);
    }
    best
}

/// Whether `set` can serve as a prefilter: non-empty, small, and no member is empty.
fn useful(set: &Set) -> bool {
    !set.is_empty() && set.len() <= MAX_REQUIRED && set.iter().all(|member| !member.is_empty())
}

/// Longer shortest member first, then fewer members.
fn better(candidate: &Set, kept: &Set) -> bool {
    let (a, b) = (shortest(candidate), shortest(kept));
    a > b || (a == b && candidate.len() < kept.len())
}

/// The finite language of `hir`, ASCII-lowercased, when it has at most [`MAX_EXACT`]
/// members; zero-width assertions count as the empty string.
fn exact(hir: &Hir) -> Option<Set> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(Set::from([Vec::new()])),
        HirKind::Literal(literal) => Some(Set::from([literal.0.to_ascii_lowercase()])),
        HirKind::Class(class) => class_strings(class),
        HirKind::Capture(capture) => exact(&capture.sub),
        HirKind::Repetition(repetition) => {
            let max = repetition.max?;
            if max > MAX_REPEAT {
                return None;
            }
            let once = exact(&repetition.sub)?;
            let mut power = Set::from([Vec::new()]);
            let mut language = Set::new();
            for copies in 0..=max {
                if copies >= repetition.min {
                    language.extend(power.iter().cloned());
                }
                if copies < max {
                    power = product(&power, &once)?;
                }
            }
            (language.len() <= MAX_EXACT).then_some(language)
        }
        HirKind::Concat(parts) => {
            let mut language = Set::from([Vec::new()]);
            for part in parts {
                language = product(&language, &exact(part)?)?;
            }
            Some(language)
        }
        HirKind::Alternation(branches) => {
            let mut language = Set::new();
            for branch in branches {
                language.extend(exact(branch)?);
                if language.len() > MAX_EXACT {
                    return None;
                }
            }
            Some(language)
        }
    }
}

/// The strings a class matches, ASCII-lowercased, when there are few of them: bytes, or
/// the UTF-8 encodings of a few characters.
fn class_strings(class: &Class) -> Option<Set> {
    let mut strings = Set::new();
    match class {
        Class::Bytes(class) => {
            for range in class.ranges() {
                if usize::from(range.end() - range.start()) >= 2 * MAX_CLASS {
                    return None;
                }
                for byte in range.start()..=range.end() {
                    strings.insert(vec![byte.to_ascii_lowercase()]);
                }
            }
        }
        Class::Unicode(class) => {
            for range in class.ranges() {
                if (u32::from(range.end()) - u32::from(range.start())) as usize >= 2 * MAX_CLASS {
                    return None;
                }
                for character in range.start()..=range.end() {
                    let mut buffer = [0u8; 4];
                    let encoded = character.encode_utf8(&mut buffer).as_bytes();
                    strings.insert(encoded.to_ascii_lowercase());
                }
            }
        }
    }
    (strings.len() <= MAX_CLASS).then_some(strings)
}

/// Every `a` followed by every `b`, unless that makes more than [`MAX_EXACT`] members.
fn product(a: &Set, b: &Set) -> Option<Set> {
    if a.len().saturating_mul(b.len()) > MAX_EXACT {
        return None;
    }
    let mut out = Set::new();
    for left in a {
        for right in b {
            let mut joined = left.clone();
            joined.extend_from_slice(right);
            out.insert(joined);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literals(regex: &str) -> Option<Vec<String>> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(regex)
            .unwrap();
        required_literals(&hir).map(|set| {
            set.into_iter()
                .map(|member| String::from_utf8_lossy(&member).into_owned())
                .collect()
        })
    }

    fn strings(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|item| item.to_string()).collect())
    }

    #[test]
    fn required_literals_of_regexes() {
        let cases: &[(&str, Option<Vec<String>>)] = &[
            ("(?i)No space left", strings(&["no space l"])),
            ("disk|Disk", strings(&["disk"])),
            (r"error\[E\d{4}\]", strings(&["error[e"])),
            (
                r"Failed to fetch .{1,200}(refused|reset)",
                strings(&["failed to "]),
            ),
            (r"(?m)^(.{0,80}: )?Killed\s*$", strings(&["killed"])),
            (r"\bEACCES\b", strings(&["eacces"])),
            (
                r"exit(ed)? (with )?124\b",
                strings(&["exit 124", "exit with ", "exited 124", "exited wit"]),
            ),
            (r"[Ee]rr(no)?", strings(&["err"])),
            (r"os error \d+", strings(&["os error "])),
            (r"\d+ failed", strings(&[" failed"])),
            (r".*", None),
            (r"\w+", None),
            (r"(a|b.*)", strings(&["a", "b"])),
            (
                r"(?i)connection refused|refused",
                strings(&["connection", "refused"]),
            ),
            (
                r"(?i)failed to fetch|failed to get",
                strings(&["failed to "]),
            ),
            ("✖ \\d+", strings(&["✖ "])),
        ];
        for (regex, expected) in cases {
            assert_eq!(&literals(regex), expected, "{regex}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..proptest::prelude::ProptestConfig::default() })]

        /// Every line a small random regex matches contains one of its literals.
        #[test]
        fn every_match_contains_a_required_literal(
            regex in "(\\(\\?i\\))?([abAB:]|[ab]\\?|\\(a\\|bb\\)|\\(ab\\)\\{1,3\\}|\\.\\{0,3\\}|\\[aA\\]|\\\\b|\\^|x\\+){1,6}",
            line in "[abAB: x]{0,12}",
        ) {
            let compiled = regex::bytes::RegexBuilder::new(&regex).unicode(false).build().unwrap();
            let hir = regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(&regex).unwrap();
            if compiled.is_match(line.as_bytes())
                && let Some(set) = required_literals(&hir)
            {
                let lower = line.to_ascii_lowercase();
                proptest::prop_assert!(
                    set.iter().any(|member| memchr::memmem::find(lower.as_bytes(), member).is_some()),
                    "{regex} matches {line:?} but holds none of {set:?}"
                );
            }
        }
    }
}
