//! The data directory one `medic test` runs in: inside medic's own (so its compiled cache
//! and keys stay medic's), but with a database, audit log, runs journal and checkpoints of
//! its own, removed when the test ends, even when it ends in an error. Nothing a scenario
//! ran is ever in medic's own records, so no scenario run can be taken for a real one
//! (`medic recover` never rolls one back on this host). It protects what medic's data
//! directory protects: no granted root may reach that one, which contains this.

use std::path::PathBuf;

use crate::store::data_dir::{DataDir, DataDirError, Protected};

/// A test bed: removed on drop.
#[derive(Debug)]
pub struct TestBed {
    path: PathBuf,
    protected: Protected,
}

impl TestBed {
    /// A fresh test bed's place inside `real`, medic's data directory; nothing is created
    /// until [`TestBed::open`].
    pub fn new(real: &DataDir) -> TestBed {
        let name = crate::run::new_run_id().replacen("run-", "test-", 1);
        TestBed {
            path: real.path().join("tests").join(name),
            protected: real.protected().clone(),
        }
    }

    /// Create and check the test bed's data directory.
    pub fn open(&self) -> Result<DataDir, DataDirError> {
        Ok(DataDir::open(&self.path)?.protecting(&self.protected))
    }
}

impl Drop for TestBed {
    fn drop(&mut self) {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(
                "cannot remove the test bed `{}`: {error}",
                self.path.display()
            ),
        }
    }
}
