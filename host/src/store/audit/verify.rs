//! Checking the audit chain: recompute every hash and link, check every signed head
//! against the data directory's key and the records it stands for, compare with the head
//! medic last published beside the database and, when given, a witness's head; name the
//! first thing that does not fit.

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::GENESIS_HASH;
use super::log::{AuditLog, record_hash};
use super::seal::{self, SignedHead};
use crate::store::db::DbError;

/// The result of a check. `--json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Always 1.
    pub version: u32,
    /// How many records were read.
    pub records: usize,
    /// The last record's hash.
    pub head: String,
    /// How many signed heads were checked.
    pub signed_heads: usize,
    /// The latest signed head, if any.
    pub last_signed: Option<SignedHead>,
    /// The first problem found, if any.
    pub first_bad: Option<BadRecord>,
}

/// Where and how the log fails its check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRecord {
    /// The record's sequence number (or the one that is missing); 0 for the log as a whole.
    pub seq: i64,
    /// What is wrong.
    pub problem: String,
}

/// What the chain is checked against besides itself.
#[derive(Debug, Clone, Default)]
pub struct Witness {
    /// The data directory's audit key: every signed head must verify under it.
    pub key: Option<VerifyingKey>,
    /// The head medic last published beside the database (`audit.head`).
    pub published: Option<SignedHead>,
    /// A head an external witness kept (`--head FILE`).
    pub kept: Option<SignedHead>,
    /// A hash some record must have (`--expect-head`).
    pub expect_hash: Option<String>,
}

/// Walk the whole log and its signed heads.
pub fn verify_chain(log: &AuditLog, witness: &Witness) -> Result<VerifyReport, DbError> {
    let rows = log.raw_rows()?;
    let heads = seal::heads(log.database())?;
    let mut report = VerifyReport {
        version: 1,
        records: rows.len(),
        head: rows
            .last()
            .map_or_else(|| GENESIS_HASH.to_string(), |row| row.hash.clone()),
        signed_heads: heads.len(),
        last_signed: heads.last().cloned(),
        first_bad: None,
    };
    let bad = |seq: i64, problem: String| Some(BadRecord { seq, problem });
    if rows.is_empty() {
        report.first_bad = bad(0, "the audit log holds no records".to_string());
        return Ok(report);
    }
    let mut prev_hash = GENESIS_HASH.to_string();
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
            report.first_bad = bad(seq, problem);
            return Ok(report);
        }
        prev_hash = row.hash.clone();
    }
    let hash_at = |seq: i64| -> Option<&str> {
        usize::try_from(seq - 1)
            .ok()
            .and_then(|index| rows.get(index))
            .map(|row| row.hash.as_str())
    };
    let check_head = |head: &SignedHead, what: &str| -> Option<BadRecord> {
        if let Some(key) = &witness.key
            && !head.is_signed_by(key)
        {
            return bad(
                head.seq,
                format!(
                    "{what} at record {} is not signed by this data directory's audit key",
                    head.seq
                ),
            );
        }
        match hash_at(head.seq) {
            None => bad(
                head.seq,
                format!(
                    "the log stops at record {}, but {what} vouches for record {}: it was cut short or replaced by an older copy",
                    rows.len(),
                    head.seq
                ),
            ),
            Some(hash) if hash != head.hash => bad(
                head.seq,
                format!(
                    "record {} does not match {what}: the log was rewritten (even with every later hash recomputed)",
                    head.seq
                ),
            ),
            Some(_) => None,
        }
    };
    for head in &heads {
        if let Some(problem) = check_head(head, "the head signed") {
            report.first_bad = Some(problem);
            return Ok(report);
        }
    }
    if let Some(published) = &witness.published {
        if let Some(problem) = check_head(published, "the head medic last published (audit.head)") {
            report.first_bad = Some(problem);
            return Ok(report);
        }
        if heads.last().is_none_or(|last| last.seq < published.seq) {
            report.first_bad = bad(
                published.seq,
                format!(
                    "the database holds no signed head as recent as the one medic published (record {}): it was replaced by an older copy",
                    published.seq
                ),
            );
            return Ok(report);
        }
    } else if witness.key.is_some() {
        // The key exists, so medic has signed (or was about to): heads and audit.head that
        // are both gone were removed.
        let problem = if heads.is_empty() {
            "the data directory holds an audit key, yet the log has no signed head and audit.head is missing: its signed heads were removed (medic signs the first record it writes)"
        } else {
            "audit.head, the head medic publishes beside the database, is missing"
        };
        report.first_bad = bad(0, problem.to_string());
        return Ok(report);
    }
    if let Some(kept) = &witness.kept
        && let Some(problem) = check_head(kept, "the witness's head")
    {
        report.first_bad = Some(problem);
        return Ok(report);
    }
    if let Some(expected) = &witness.expect_hash
        && !rows.iter().any(|row| &row.hash == expected)
    {
        report.first_bad = bad(
            rows.len() as i64 + 1,
            format!("no record has the expected head hash `{expected}`: the log was cut short"),
        );
    }
    Ok(report)
}
