//! medic: heals failing infrastructure and CI pipelines with remediations that run as
//! sandboxed WebAssembly components and reach only what their manifest grants.
//!
//! Data flow: incident -> (diagnosis, plan, policy: later stages) -> sandbox -> heal ->
//! audit. This library never prints; the `medic` binary renders what it returns.
#![warn(missing_docs)]

pub mod audit;
pub mod catalog;
pub mod checkpoint;
pub mod config;
pub mod context;
pub mod db;
pub mod diagnosis;
pub mod heal;
pub mod incident;
pub mod manifest;
pub mod sandbox;
