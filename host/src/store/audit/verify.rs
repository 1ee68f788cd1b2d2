//! Checking the audit chain: recompute every hash and link, and name the first record
//! that does not fit.

use serde::Serialize;

use super::GENESIS_HASH;
use super::log::{AuditLog, record_hash};
use crate::store::db::DbError;

/// The result of a check. `--json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Always 1.
    pub version: u32,
    /// How many records were read.
    pub records: usize,
    /// The last record's hash: keep it elsewhere to detect a cut-off tail later.
    pub head: String,
    /// The first record that breaks the chain, if any.
    pub first_bad: Option<BadRecord>,
}

/// Where and how the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRecord {
    /// The record's sequence number (or the one that is missing).
    pub seq: i64,
    /// What is wrong with it.
    pub problem: String,
}

/// Walk the whole log. `expect_head`, when given, must be the hash of some record: a log
/// whose records stop before it has lost its tail.
pub fn verify_chain(log: &AuditLog, expect_head: Option<&str>) -> Result<VerifyReport, DbError> {
    let rows = log.raw_rows()?;
    let mut prev_hash = GENESIS_HASH.to_string();
    let mut first_bad = None;
    let mut saw_expected = expect_head.is_none();
    for (index, row) in rows.iter().enumerate() {
        let expected_seq = index as i64 + 1;
        let problem = if row.seq != expected_seq {
            Some((
                expected_seq,
                format!("record {expected_seq} is missing (next is {})", row.seq),
            ))
        } else if row.prev_hash != prev_hash {
            Some((row.seq, "does not chain to the record before it (a record before it was changed or removed)".to_string()))
        } else if record_hash(
            row.seq,
            &row.run_id,
            &row.at,
            &row.kind,
            &row.data,
            &row.prev_hash,
        ) != row.hash
        {
            Some((
                row.seq,
                "its contents do not match its hash (it was edited)".to_string(),
            ))
        } else {
            None
        };
        if let Some((seq, problem)) = problem {
            first_bad = Some(BadRecord { seq, problem });
            break;
        }
        if expect_head == Some(row.hash.as_str()) {
            saw_expected = true;
        }
        prev_hash = row.hash.clone();
    }
    if first_bad.is_none() && !saw_expected {
        first_bad = Some(BadRecord {
            seq: rows.len() as i64 + 1,
            problem: format!(
                "no record has the expected head hash `{}`: the log was cut short",
                expect_head.unwrap_or_default()
            ),
        });
    }
    Ok(VerifyReport {
        version: 1,
        records: rows.len(),
        head: rows
            .last()
            .map_or_else(|| GENESIS_HASH.to_string(), |row| row.hash.clone()),
        first_bad,
    })
}
