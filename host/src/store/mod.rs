//! medic's own state in its data directory (`data_dir.rs`: checked ownership, keys, what
//! no grant may reach): the SQLite database (`db.rs`), the audit log (`audit/`), the runs
//! journal (`runs.rs`), the rollback checkpoints (`checkpoints.rs`), the rate-limit
//! counters (`rates.rs`), the outcomes medic learns from (`outcomes.rs`) and the heal loops'
//! journal with its concurrency slots (`heals.rs`). This module is the
//! only opener of SQLite; nothing a remediation can reach lives here.

pub mod audit;
pub mod checkpoints;
pub mod data_dir;
pub mod db;
pub mod heals;
pub mod outcomes;
pub mod rates;
pub mod runs;
