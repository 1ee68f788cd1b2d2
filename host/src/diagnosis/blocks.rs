//! Cutting a log into regions that can be matched apart, in parallel, with the same result
//! as one pass.
//!
//! The input is read in blocks of [`BLOCK`] bytes; each region handed out holds whole
//! lines, so no line straddles two regions. A line longer than [`MAX_LINE`] bytes is cut
//! every [`MAX_LINE`] bytes, counted from its start, and each piece counts as a line: where
//! a line is cut depends on the input only, never on how it was read. Each region carries
//! the lines above it (the last [`ABOVE`] lines before it, cleaned) and the number of lines
//! before it, which is all that matching a line needs from outside its region: its number,
//! and what the failing step printed above a wrapper line (`matcher.rs`).
//!
//! [`drive`] hands regions to worker threads and returns their results in input order;
//! memory stays bounded by the regions in flight, twice the workers. It knows nothing of
//! patterns.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::{Mutex, mpsc};

use super::clean::clean;

/// Bytes read per block; a region is at most this plus one line.
pub(crate) const BLOCK: usize = 1 << 20;
/// Longest line considered whole; longer ones are cut into pieces of this many bytes.
pub const MAX_LINE: usize = 256 << 10;
/// Lines kept from above each region: enough for the walk up from a wrapper line.
pub(crate) const ABOVE: usize = 12;
/// Most worker threads; beyond a few, reading and merging bound the speed.
const MAX_THREADS: usize = 8;

/// A run of whole lines of the input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Region {
    /// The raw bytes: whole lines, the last one cut at [`MAX_LINE`] or unterminated at the
    /// end of the input.
    pub bytes: Vec<u8>,
    /// Lines of the input before this region.
    pub base_line: u64,
    /// The last lines before this region, cleaned, oldest first (at most [`ABOVE`]).
    pub above: Vec<Vec<u8>>,
}

/// How to read: block size and worker threads (0: as many as the machine has, at most
/// `MAX_THREADS`).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Bytes read per block.
    pub block: usize,
    /// Worker threads; 1 matches on the calling thread.
    pub threads: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            block: BLOCK,
            threads: 0,
        }
    }
}

impl Plan {
    fn workers(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism()
                .map_or(1, std::num::NonZeroUsize::get)
                .min(MAX_THREADS),
            threads => threads,
        }
    }
}

/// Reads an input as [`Region`]s.
pub(crate) struct Regions<R> {
    input: R,
    block: usize,
    pending: Vec<u8>,
    at_eof: bool,
    lines: u64,
    bytes: u64,
    above: VecDeque<Vec<u8>>,
}

impl<R: Read> Regions<R> {
    /// Regions of `input`, read `block` bytes at a time.
    pub(crate) fn new(input: R, block: usize) -> Self {
        Regions {
            input,
            block: block.max(1),
            pending: Vec::new(),
            at_eof: false,
            lines: 0,
            bytes: 0,
            above: VecDeque::new(),
        }
    }

    /// Bytes read so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The next region, or `None` at the end of the input.
    pub(crate) fn next_region(&mut self) -> std::io::Result<Option<Region>> {
        loop {
            let end = match cut(&self.pending) {
                Some(end) => end,
                None if self.at_eof && !self.pending.is_empty() => self.pending.len(),
                None if self.at_eof => return Ok(None),
                None => {
                    self.fill()?;
                    continue;
                }
            };
            let rest = self.pending.split_off(end);
            let bytes = std::mem::replace(&mut self.pending, rest);
            let region = Region {
                base_line: self.lines,
                above: self.above.iter().cloned().collect(),
                bytes,
            };
            self.lines += line_count(&region.bytes);
            self.remember_above(&region.bytes);
            return Ok(Some(region));
        }
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let start = self.pending.len();
        self.pending.resize(start + self.block, 0);
        let mut filled = start;
        while filled < self.pending.len() {
            match self.input.read(&mut self.pending[filled..]) {
                Ok(0) => {
                    self.at_eof = true;
                    break;
                }
                Ok(read) => filled += read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.pending.truncate(filled);
                    return Err(error);
                }
            }
        }
        self.pending.truncate(filled);
        self.bytes += (filled - start) as u64;
        Ok(())
    }

    /// Keep the last [`ABOVE`] lines of `bytes` (with those before, if it has fewer).
    fn remember_above(&mut self, bytes: &[u8]) {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let start = memchr::memrchr_iter(b'\n', body)
            .nth(ABOVE - 1)
            .map_or(0, |newline| newline + 1);
        let mut out = Vec::new();
        for line in body[start..].split(|byte| *byte == b'\n') {
            if self.above.len() == ABOVE {
                self.above.pop_front();
            }
            self.above.push_back(clean(line, &mut out).to_vec());
        }
    }
}

/// Lines in a region: its newlines, plus one for an unterminated last line.
pub(crate) fn line_count(bytes: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
    newlines + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

/// Where the region at the front of `data` ends: after its last whole line, or at a cut
/// [`MAX_LINE`] bytes into a longer line that opens it; `None` if `data` holds no whole
/// line yet (more must be read, or it is the input's unterminated end).
fn cut(data: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for newline in memchr::memchr_iter(b'\n', data) {
        if newline - line_start > MAX_LINE {
            break;
        }
        line_start = newline + 1;
    }
    if line_start > 0 {
        return Some(line_start);
    }
    // No whole line: cut a line that is known to be longer than MAX_LINE.
    let line_end = memchr::memchr(b'\n', data).unwrap_or(data.len());
    (line_end > MAX_LINE).then_some(MAX_LINE)
}

/// Match every region of `input` with `work`, on `plan`'s threads, and give each result
/// to `merge` in input order; returns the bytes read.
pub(crate) fn drive<T: Send>(
    input: impl Read,
    plan: Plan,
    work: impl Fn(&Region) -> T + Sync,
    mut merge: impl FnMut(T),
) -> std::io::Result<u64> {
    let mut regions = Regions::new(input, plan.block);
    let workers = plan.workers();
    let Some(first) = regions.next_region()? else {
        return Ok(regions.bytes());
    };
    let second = match regions.next_region()? {
        Some(second) if workers > 1 => second,
        second => {
            // A small input, or one thread: no threads to start.
            merge(work(&first));
            if let Some(region) = second {
                merge(work(&region));
            }
            while let Some(region) = regions.next_region()? {
                merge(work(&region));
            }
            return Ok(regions.bytes());
        }
    };
    let (jobs, queue) = mpsc::sync_channel::<(usize, Region)>(workers);
    let queue = Mutex::new(queue);
    let (results, finished) = mpsc::channel::<(usize, T)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let results = results.clone();
            let (queue, work) = (&queue, &work);
            scope.spawn(move || {
                loop {
                    let job = queue.lock().expect("no worker panics holding it").recv();
                    let Ok((sequence, region)) = job else { break };
                    if results.send((sequence, work(&region))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(results);
        let mut waiting: BTreeMap<usize, T> = BTreeMap::new();
        let mut next = 0;
        let mut sent = 0;
        let mut deliver = |waiting: &mut BTreeMap<usize, T>, next: &mut usize| {
            while let Some(result) = waiting.remove(next) {
                merge(result);
                *next += 1;
            }
        };
        let mut outcome = Ok(());
        let mut pending = vec![first, second].into_iter();
        loop {
            let region = match pending.next() {
                Some(region) => Some(region),
                None => match regions.next_region() {
                    Ok(region) => region,
                    Err(error) => {
                        outcome = Err(error);
                        None
                    }
                },
            };
            let Some(region) = region else { break };
            // Collect what is done so results do not pile up while the reader waits.
            while let Ok((sequence, result)) = finished.try_recv() {
                waiting.insert(sequence, result);
            }
            deliver(&mut waiting, &mut next);
            if jobs.send((sent, region)).is_err() {
                break;
            }
            sent += 1;
        }
        drop(jobs);
        for (sequence, result) in finished.iter() {
            waiting.insert(sequence, result);
            deliver(&mut waiting, &mut next);
        }
        outcome
    })?;
    Ok(regions.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each region as (base line, lines above, its text).
    fn regions(text: &[u8], block: usize) -> Vec<(u64, usize, Vec<u8>)> {
        let mut regions = Regions::new(text, block);
        let mut out = Vec::new();
        while let Some(region) = regions.next_region().unwrap() {
            out.push((region.base_line, region.above.len(), region.bytes));
        }
        out
    }

    #[test]
    fn regions_hold_whole_lines_whatever_the_block() {
        let text = b"one\ntwo\nthree\nfour";
        for block in 1..=text.len() + 1 {
            let found = regions(text, block);
            let joined: Vec<u8> = found
                .iter()
                .flat_map(|(_, _, bytes)| bytes.clone())
                .collect();
            assert_eq!(joined, text, "block {block}");
            let mut lines = 0;
            for (base, _, bytes) in &found {
                assert!(
                    bytes.ends_with(b"\n") || bytes.ends_with(b"four"),
                    "block {block}: {bytes:?}"
                );
                assert_eq!(*base, lines, "block {block}");
                lines += line_count(bytes);
            }
            assert_eq!(lines, 4);
        }
    }

    #[test]
    fn a_long_line_is_cut_at_the_same_places_whatever_the_block() {
        let mut text = b"short\n".to_vec();
        text.extend(std::iter::repeat_n(b'a', 2 * MAX_LINE + 5));
        text.extend_from_slice(b"\nend\n");
        let mut exactly = std::iter::repeat_n(b'b', MAX_LINE).collect::<Vec<u8>>();
        exactly.push(b'\n');
        text.extend_from_slice(&exactly);
        for block in [
            7,
            4096,
            MAX_LINE - 1,
            MAX_LINE,
            MAX_LINE + 1,
            BLOCK,
            4 * BLOCK,
        ] {
            let lengths: Vec<usize> = regions(&text, block)
                .iter()
                .flat_map(|(_, _, bytes)| {
                    bytes
                        .split_inclusive(|byte| *byte == b'\n')
                        .map(<[u8]>::len)
                        .collect::<Vec<_>>()
                })
                .collect();
            // `short\n`, two pieces of MAX_LINE, the rest with its newline, `end\n`, and a
            // line of exactly MAX_LINE bytes, which is whole.
            assert_eq!(
                lengths,
                [6, MAX_LINE, MAX_LINE, 6, 4, MAX_LINE + 1],
                "block {block}"
            );
        }
    }

    #[test]
    fn regions_carry_the_cleaned_lines_above_them() {
        let text = b"l1\nl2 \x1b[31mred\x1b[0m\nl3\n";
        let mut regions = Regions::new(&text[..], 1);
        let mut aboves = Vec::new();
        while let Some(region) = regions.next_region().unwrap() {
            aboves.push(region.above);
        }
        assert_eq!(
            aboves,
            [
                vec![],
                vec![b"l1".to_vec()],
                vec![b"l1".to_vec(), b"l2 red".to_vec()]
            ]
        );
    }

    #[test]
    fn results_come_back_in_input_order_on_any_number_of_threads() {
        let text: Vec<u8> = (0..5000)
            .flat_map(|index| format!("line {index}\n").into_bytes())
            .collect();
        for threads in [1, 2, 3, 8] {
            let mut bases = Vec::new();
            let bytes = drive(
                &text[..],
                Plan {
                    block: 100,
                    threads,
                },
                |region| region.base_line,
                |base| bases.push(base),
            )
            .unwrap();
            assert_eq!(bytes, text.len() as u64);
            assert!(bases.windows(2).all(|pair| pair[0] < pair[1]), "{threads}");
            assert_eq!(bases[0], 0);
        }
    }
}
