//! medic: heals failing infrastructure and CI pipelines with remediations that run as
//! sandboxed WebAssembly components and reach only what their manifest grants.
//!
//! Data flow: incident -> context -> diagnosis -> plan -> policy decision -> run ->
//! sandbox -> verify -> store (audit, checkpoints, runs, outcomes); `heal/` drives the loop. This library never prints; the `medic`
//! binary renders what it returns.
#![warn(missing_docs)]

pub mod authoring;
pub mod catalog;
pub mod config;
pub mod context;
pub mod diagnosis;
pub mod escalation;
pub mod heal;
pub mod incident;
pub mod learning;
pub mod manifest;
pub mod nofollow;
pub mod plan;
pub mod policy;
pub mod process;
pub mod run;
pub mod sandbox;
pub mod scenario;
pub mod secrets;
pub mod stop;
pub mod store;
pub mod text;
