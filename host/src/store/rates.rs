//! Rate-limit counters: one row per counted call, in medic's database, so a limit holds
//! across calls, runs, incidents and medic processes (a `medic serve` and a `medic heal`
//! in CI share it). A check and its count are one IMMEDIATE transaction: two processes
//! cannot both take the last slot.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{TransactionBehavior, params};

use crate::store::db::{Database, DbError};

/// A limit's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Counted; this many more fit in the window.
    Admitted {
        /// Calls left in the window after this one.
        left: u32,
    },
    /// Refused: the window is full until this long from now.
    Refused {
        /// When the oldest counted call leaves the window.
        retry_after: Duration,
    },
}

/// The rate counters in the database.
#[derive(Clone)]
pub struct Rates {
    db: Database,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

impl Rates {
    /// The counters in `db`.
    pub fn new(db: Database) -> Self {
        Rates { db }
    }

    /// Count one call of `scope` (a remediation's grant) for `key` (what the limit counts
    /// by) if fewer than `max` were counted in the last `per`; refuse it otherwise.
    pub fn admit(
        &self,
        scope: &str,
        key: &str,
        max: u32,
        per: Duration,
    ) -> Result<Admission, DbError> {
        let now = now_ms();
        let since = now - per.as_millis() as i64;
        let mut connection = self.db.lock();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|error| self.db.error(error))?;
        transaction
            .execute(
                "DELETE FROM rate_events WHERE scope = ?1 AND key = ?2 AND at_ms <= ?3",
                params![scope, key, since],
            )
            .map_err(|error| self.db.error(error))?;
        let (count, oldest): (u32, Option<i64>) = transaction
            .query_row(
                "SELECT COUNT(*), MIN(at_ms) FROM rate_events WHERE scope = ?1 AND key = ?2",
                params![scope, key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|error| self.db.error(error))?;
        if count >= max {
            let oldest = oldest.unwrap_or(now);
            let retry_after = Duration::from_millis((oldest - since).max(0) as u64);
            return Ok(Admission::Refused { retry_after });
        }
        transaction
            .execute(
                "INSERT INTO rate_events (scope, key, at_ms) VALUES (?1, ?2, ?3)",
                params![scope, key, now],
            )
            .map_err(|error| self.db.error(error))?;
        transaction.commit().map_err(|error| self.db.error(error))?;
        Ok(Admission::Admitted {
            left: max - count - 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_holds_max_calls_per_key_and_frees_as_it_slides() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = crate::store::data_dir::DataDir::open(&tmp.path().join("data")).unwrap();
        let db = Database::open(&dir).unwrap();
        let rates = Rates::new(db.clone());
        let per = Duration::from_millis(300);
        assert_eq!(
            rates.admit("r exec", "nginx", 2, per).unwrap(),
            Admission::Admitted { left: 1 }
        );
        assert_eq!(
            rates.admit("r exec", "nginx", 2, per).unwrap(),
            Admission::Admitted { left: 0 }
        );
        let Admission::Refused { retry_after } = rates.admit("r exec", "nginx", 2, per).unwrap()
        else {
            panic!("a third call fits in a window of two");
        };
        assert!(retry_after <= per);
        // Another key and another scope count apart; a second handle on the file shares it.
        assert!(matches!(
            rates.admit("r exec", "redis", 2, per).unwrap(),
            Admission::Admitted { .. }
        ));
        let other = Rates::new(Database::open(&dir).unwrap());
        assert!(matches!(
            other.admit("r exec", "nginx", 2, per).unwrap(),
            Admission::Refused { .. }
        ));
        std::thread::sleep(per + Duration::from_millis(20));
        assert!(matches!(
            rates.admit("r exec", "nginx", 2, per).unwrap(),
            Admission::Admitted { .. }
        ));
    }
}
