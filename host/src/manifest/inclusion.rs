//! Deciding, on the automata, whether every string one pattern accepts another accepts
//! too, and finding a string that shows it does not.
//!
//! A manifest's grant is within the operator's ceiling only if every call it allows the
//! ceiling allows as well. For one pattern that is language inclusion: the product of the
//! manifest pattern's DFA with the complement of the ceiling's is empty. For an exec grant
//! (one pattern per argument) against several ceiling grants it is inclusion of a product
//! of languages in a union of products: each argument position records which ceiling
//! grants a string can escape, and a tuple escapes them all when the positions' escapes
//! together cover every grant. Only valid UTF-8 counts, since arguments and paths are
//! strings. Patterns are whole-string matches, as the gates apply them.

use std::collections::{HashMap, VecDeque};

use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};

/// Most product states explored for one argument position before giving up.
const MAX_PRODUCT_STATES: usize = 200_000;
/// Most ceiling grants compared at once (one bit each).
const MAX_CEILING_GRANTS: usize = 64;
/// Size cap for one compiled DFA.
const MAX_DFA_BYTES: usize = 8 << 20;

/// How one pattern set relates to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inclusion {
    /// Every string the inner patterns accept, the outer accept.
    Within,
    /// This input is accepted by the inner patterns and refused by the outer (one string per
    /// position).
    Beyond(Vec<String>),
    /// The automata were too large to compare.
    Undecided(String),
}

/// One compiled whole-string pattern.
struct Dfa {
    dfa: dense::DFA<Vec<u32>>,
    start: StateID,
}

impl Dfa {
    fn new(pattern: &str) -> Result<Dfa, String> {
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .start_kind(StartKind::Anchored)
                    .dfa_size_limit(Some(MAX_DFA_BYTES))
                    .determinize_size_limit(Some(MAX_DFA_BYTES)),
            )
            .build(&format!("^(?:{pattern})$"))
            .map_err(|error| format!("`{pattern}`: {error}"))?;
        let start = dfa
            .start_state(&start::Config::new().anchored(Anchored::Yes))
            .map_err(|error| format!("`{pattern}`: {error}"))?;
        Ok(Dfa { dfa, start })
    }

    fn next(&self, state: StateID, byte: u8) -> StateID {
        self.dfa.next_state(state, byte)
    }

    fn accepts_at_end(&self, state: StateID) -> bool {
        self.dfa.is_match_state(self.dfa.next_eoi_state(state))
    }

    fn dead(&self, state: StateID) -> bool {
        self.dfa.is_dead_state(state)
    }
}

/// Whether `inner` (one pattern per position) is within the union of `outer` (each a
/// pattern per position, all of the same length as `inner`).
pub fn within_union(inner: &[&str], outer: &[Vec<&str>]) -> Inclusion {
    if outer.is_empty() {
        return match witness_any(inner) {
            Ok(Some(tuple)) => Inclusion::Beyond(tuple),
            Ok(None) => Inclusion::Within,
            Err(reason) => Inclusion::Undecided(reason),
        };
    }
    if outer.len() > MAX_CEILING_GRANTS {
        return Inclusion::Undecided(format!("more than {MAX_CEILING_GRANTS} ceiling entries"));
    }
    let all: u64 = if outer.len() == 64 {
        u64::MAX
    } else {
        (1u64 << outer.len()) - 1
    };
    let mut options: Vec<Vec<(u64, String)>> = Vec::new();
    for (position, pattern) in inner.iter().enumerate() {
        let column: Vec<&str> = outer.iter().map(|grant| grant[position]).collect();
        match escapes(pattern, &column) {
            // The pattern accepts no string at all: the grant allows no call.
            Ok(found) if found.is_empty() => return Inclusion::Within,
            Ok(found) => options.push(found),
            Err(reason) => return Inclusion::Undecided(reason),
        }
    }
    match cover(&options, all) {
        Some(tuple) => Inclusion::Beyond(tuple),
        None => Inclusion::Within,
    }
}

/// Some string of each position, when every position accepts one (an empty language
/// anywhere makes the grant match nothing, which is within anything).
fn witness_any(inner: &[&str]) -> Result<Option<Vec<String>>, String> {
    let mut tuple = Vec::new();
    for pattern in inner {
        match escapes(pattern, &[])?.into_iter().next() {
            Some((_, witness)) => tuple.push(witness),
            None => return Ok(None),
        }
    }
    Ok(Some(tuple))
}

/// For the strings `pattern` accepts, the sets of `column` patterns (as bit masks) that
/// refuse them, each with one witness string (mask 0: accepted by every one of them).
/// Empty when `pattern` accepts no string.
fn escapes(pattern: &str, column: &[&str]) -> Result<Vec<(u64, String)>, String> {
    let inner = Dfa::new(pattern)?;
    let utf8 = Dfa::new("(?s:.)*")?;
    let outer: Vec<Dfa> = column
        .iter()
        .map(|pattern| Dfa::new(pattern))
        .collect::<Result<_, _>>()?;
    let start: Vec<StateID> = std::iter::once(inner.start)
        .chain(std::iter::once(utf8.start))
        .chain(outer.iter().map(|dfa| dfa.start))
        .collect();
    let mut parent: HashMap<Vec<StateID>, Option<(Vec<StateID>, u8)>> = HashMap::new();
    parent.insert(start.clone(), None);
    let mut queue = VecDeque::from([start]);
    let mut found: HashMap<u64, String> = HashMap::new();
    while let Some(state) = queue.pop_front() {
        if inner.accepts_at_end(state[0]) && utf8.accepts_at_end(state[1]) {
            let mask = outer
                .iter()
                .zip(&state[2..])
                .enumerate()
                .filter(|(_, (dfa, id))| !dfa.accepts_at_end(**id))
                .fold(0u64, |mask, (index, _)| mask | (1 << index));
            found
                .entry(mask)
                .or_insert_with(|| path_to(&parent, &state));
        }
        for byte in 0..=255u8 {
            let next_inner = inner.next(state[0], byte);
            let next_utf8 = utf8.next(state[1], byte);
            if inner.dead(next_inner) || utf8.dead(next_utf8) {
                continue;
            }
            let next: Vec<StateID> = [next_inner, next_utf8]
                .into_iter()
                .chain(
                    outer
                        .iter()
                        .zip(&state[2..])
                        .map(|(dfa, id)| dfa.next(*id, byte)),
                )
                .collect();
            if !parent.contains_key(&next) {
                if parent.len() >= MAX_PRODUCT_STATES {
                    return Err(format!(
                        "`{pattern}` against the ceiling needs more than {MAX_PRODUCT_STATES} states to compare"
                    ));
                }
                parent.insert(next.clone(), Some((state.clone(), byte)));
                queue.push_back(next);
            }
        }
    }
    let mut found: Vec<(u64, String)> = found.into_iter().collect();
    found.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(&b.0)));
    Ok(found)
}

/// The shortest input reaching `state`, as text (always valid UTF-8: the UTF-8 automaton
/// accepted it).
fn path_to(
    parent: &HashMap<Vec<StateID>, Option<(Vec<StateID>, u8)>>,
    state: &[StateID],
) -> String {
    let mut bytes = Vec::new();
    let mut current = state.to_vec();
    while let Some(Some((previous, byte))) = parent.get(&current) {
        bytes.push(*byte);
        current = previous.clone();
    }
    bytes.reverse();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A choice of one escape per position whose masks together cover `all`, as the witness
/// strings; `None` when no choice covers every grant.
fn cover(options: &[Vec<(u64, String)>], all: u64) -> Option<Vec<String>> {
    fn search(
        options: &[Vec<(u64, String)>],
        position: usize,
        covered: u64,
        all: u64,
        seen: &mut std::collections::HashSet<(usize, u64)>,
    ) -> Option<Vec<String>> {
        if position == options.len() {
            return (covered == all).then(Vec::new);
        }
        if !seen.insert((position, covered)) {
            return None;
        }
        for (mask, witness) in &options[position] {
            if let Some(mut rest) = search(options, position + 1, covered | mask, all, seen) {
                rest.insert(0, witness.clone());
                return Some(rest);
            }
        }
        None
    }
    search(options, 0, 0, all, &mut std::collections::HashSet::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(inner: &[&str], outer: &[&[&str]]) -> Inclusion {
        let outer: Vec<Vec<&str>> = outer.iter().map(|grant| grant.to_vec()).collect();
        within_union(inner, &outer)
    }

    #[test]
    fn single_patterns_are_compared_by_language_not_text() {
        assert_eq!(check(&["restart"], &[&["restart|stop"]]), Inclusion::Within);
        assert_eq!(check(&["[a-c]x"], &[&["ax|bx|cx"]]), Inclusion::Within);
        assert_eq!(
            check(&["web-[0-9]{1,3}"], &[&["[a-z]+-[0-9]+"]]),
            Inclusion::Within
        );
        assert_eq!(
            check(&["restart|kill"], &[&["restart|stop"]]),
            Inclusion::Beyond(vec!["kill".to_string()])
        );
        assert_eq!(
            check(&["[a-z]+"], &[&["[a-z]{1,3}"]]),
            Inclusion::Beyond(vec!["aaaa".to_string()])
        );
        assert_eq!(
            check(&[".*"], &[&["[^-].*"]]),
            Inclusion::Beyond(vec![String::new()])
        );
        // Only strings count: a pattern over bytes cannot smuggle invalid UTF-8 past.
        assert_eq!(check(&["é"], &[&["(?s:.)"]]), Inclusion::Within);
    }

    #[test]
    fn argument_tuples_are_compared_against_the_union_of_grants() {
        let ceiling: &[&[&str]] = &[&["restart", "[a-z]+"], &["stop", "[a-z]+"]];
        assert_eq!(check(&["restart|stop", "web"], ceiling), Inclusion::Within);
        assert_eq!(
            check(&["restart|status", "web"], ceiling),
            Inclusion::Beyond(vec!["status".to_string(), "web".to_string()])
        );
        let split: &[&[&str]] = &[&["a", "x"], &["b", "y"]];
        let Inclusion::Beyond(tuple) = check(&["a|b", "x|y"], split) else {
            panic!("a|b x|y is not within a x | b y");
        };
        let whole = |pattern: &str, text: &str| {
            regex::Regex::new(&format!("^(?:{pattern})$"))
                .unwrap()
                .is_match(text)
        };
        assert!(
            whole("a|b", &tuple[0]) && whole("x|y", &tuple[1]),
            "{tuple:?}"
        );
        assert!(
            split
                .iter()
                .all(|grant| !(whole(grant[0], &tuple[0]) && whole(grant[1], &tuple[1]))),
            "{tuple:?} escapes every grant"
        );
        assert_eq!(
            check(&["a", "x|y"], &[&["a", "x"], &["a", "y"]]),
            Inclusion::Within
        );
    }

    #[test]
    fn nothing_is_within_an_empty_ceiling_unless_it_matches_nothing() {
        assert_eq!(check(&["x"], &[]), Inclusion::Beyond(vec!["x".to_string()]));
        assert_eq!(check(&["[^\\s\\S]"], &[]), Inclusion::Within);
    }
}
