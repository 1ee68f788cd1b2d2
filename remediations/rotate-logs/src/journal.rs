//! The rotation's journal: every step, saved to a checkpoint before it is made, so that
//! `rollback` (in the same run, or `medic recover`'s after a kill) undoes exactly what may
//! have happened, last first, and forgets each step once undone.
//!
//! Saved as one line per step, fields separated by tabs: paths hold neither, since the
//! manifest's patterns refuse control characters and medic adds only `.N` and `.gz`.

use medic_guest_sdk::{Error, checkpoint};

/// The checkpoint key holding the journal.
const KEY: &str = "rotation";

/// One step of a rotation, with absolute paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// `from` is renamed to `to`, one number up.
    Shift { from: String, to: String },
    /// `path` is written: the log's bytes, gzip-compressed.
    Archive { path: String },
    /// `log` is truncated in place; its `size` bytes are in `archive`.
    Truncate {
        log: String,
        archive: String,
        size: u64,
    },
    /// `log` is renamed to `to`.
    Rename { log: String, to: String },
    /// An empty log is created at `log`, unless its writer made one first.
    Create { log: String },
}

/// The steps recorded so far, kept in the run's checkpoint.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    actions: Vec<Action>,
}

impl Journal {
    /// The journal this run has saved, empty when it has none.
    pub(crate) fn load() -> Result<Journal, Error> {
        let text = checkpoint::load_string(KEY)?.unwrap_or_default();
        let actions = decode(&text)
            .map_err(|why| Error::failed(format!("checkpoint `{KEY}` is unreadable: {why}")))?;
        Ok(Journal { actions })
    }

    /// Record `action` before it is made.
    pub(crate) fn record(&mut self, action: Action) -> Result<(), Error> {
        self.actions.push(action);
        self.save()
    }

    /// The step to undo next.
    pub(crate) fn last(&self) -> Option<&Action> {
        self.actions.last()
    }

    /// Forget the last step, once undone.
    pub(crate) fn forget_last(&mut self) -> Result<(), Error> {
        self.actions.pop();
        self.save()
    }

    /// True once `archive` is recorded as written.
    pub(crate) fn has_archive(&self, archive: &str) -> bool {
        self.actions
            .iter()
            .any(|action| matches!(action, Action::Archive { path } if path == archive))
    }

    fn save(&self) -> Result<(), Error> {
        checkpoint::save_str(KEY, &encode(&self.actions))
    }
}

fn encode(actions: &[Action]) -> String {
    let lines: Vec<String> = actions
        .iter()
        .map(|action| match action {
            Action::Shift { from, to } => format!("shift\t{from}\t{to}"),
            Action::Archive { path } => format!("archive\t{path}"),
            Action::Truncate { log, archive, size } => {
                format!("truncate\t{log}\t{archive}\t{size}")
            }
            Action::Rename { log, to } => format!("rename\t{log}\t{to}"),
            Action::Create { log } => format!("create\t{log}"),
        })
        .collect();
    lines.join("\n")
}

fn decode(text: &str) -> Result<Vec<Action>, String> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let owned = |index: usize| fields[index].to_string();
            match fields.as_slice() {
                ["shift", _, _] => Ok(Action::Shift {
                    from: owned(1),
                    to: owned(2),
                }),
                ["archive", _] => Ok(Action::Archive { path: owned(1) }),
                ["truncate", _, _, size] => Ok(Action::Truncate {
                    log: owned(1),
                    archive: owned(2),
                    size: size
                        .parse()
                        .map_err(|_| format!("`{size}` is not a size in `{line}`"))?,
                }),
                ["rename", _, _] => Ok(Action::Rename {
                    log: owned(1),
                    to: owned(2),
                }),
                ["create", _] => Ok(Action::Create { log: owned(1) }),
                _ => Err(format!("`{line}` is not a rotation step")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_round_trips() {
        let actions = vec![
            Action::Shift {
                from: "/var/log/app/app.log.1.gz".to_string(),
                to: "/var/log/app/app.log.2.gz".to_string(),
            },
            Action::Archive {
                path: "/var/log/app/app.log.1.gz".to_string(),
            },
            Action::Truncate {
                log: "/var/log/app/app.log".to_string(),
                archive: "/var/log/app/app.log.1.gz".to_string(),
                size: 123_456,
            },
            Action::Rename {
                log: "/var/log/app/my app.log".to_string(),
                to: "/var/log/app/my app.log.1".to_string(),
            },
            Action::Create {
                log: "/var/log/app/my app.log".to_string(),
            },
        ];
        assert_eq!(decode(&encode(&actions)), Ok(actions));
        assert_eq!(decode(""), Ok(Vec::new()));
    }

    #[test]
    fn a_damaged_journal_is_an_error_not_a_guess() {
        assert_eq!(
            decode("shift\t/a"),
            Err("`shift\t/a` is not a rotation step".to_string())
        );
        assert_eq!(
            decode("truncate\t/a\t/a.1.gz\tmany"),
            Err("`many` is not a size in `truncate\t/a\t/a.1.gz\tmany`".to_string())
        );
    }
}
