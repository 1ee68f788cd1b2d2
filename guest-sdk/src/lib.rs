//! The guest side of medic: write a remediation in Rust and build it to a WebAssembly
//! component for `wasm32-wasip2`.
//!
//! An author implements [`Remediation`] and invokes [`export_remediation!`]. Everything the
//! remediation may touch goes through the modules here, one per capability: [`exec`],
//! [`http`], [`fs`], [`mod@env`], plus [`log`] and [`checkpoint`]. Each call is checked by the
//! host against the remediation's manifest (`remediation.toml`) and the operator's risk
//! ceiling, and recorded in medic's audit log. A refused call returns
//! [`Error::Denied`]; it never aborts the guest, so a remediation can report it or try
//! another way.
//!
//! This crate does not own the contract: `wit/medic.wit` does, and the bindings below are
//! generated from it.
//!
//! # Building and testing
//!
//! A remediation crate has `crate-type = ["cdylib", "rlib"]`, is built for
//! `wasm32-wasip2` with medic's `guest` profile by `medic build` (which also writes the
//! component's sha256 into `remediation.toml`), and is tested two ways:
//! - `cargo test`, natively, for pure logic (parsing a parameter, choosing files). There
//!   is no host there: every host call returns [`Error::NotInSandbox`] and does nothing,
//!   and [`log`] writes to standard error. Build incidents with [`Incident::new`].
//! - `medic test`, for the remediation as medic runs it: the real sandbox, manifest and
//!   ceilings against a scenario that scripts what the world answers.
//!
//! # Example
//!
//! ```no_run
//! use medic_guest_sdk::{exec, Error, Incident, Remediation, Step, Verdict};
//!
//! struct RestartNginx;
//!
//! impl Remediation for RestartNginx {
//!     fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
//!         Ok(vec![Step::exec("/usr/bin/systemctl restart nginx.service", "restart the unit")])
//!     }
//!     fn apply(_incident: &Incident) -> Result<String, Error> {
//!         match exec::run("/usr/bin/systemctl", &["restart", "nginx.service"]) {
//!             Ok(output) if output.success() => Ok("restarted nginx".to_string()),
//!             Ok(output) => Err(Error::failed(format!("systemctl said: {}", output.stderr_lossy()))),
//!             Err(denied @ Error::Denied { .. }) => Err(denied),
//!             Err(other) => Err(other),
//!         }
//!     }
//!     fn verify(_incident: &Incident) -> Result<Verdict, Error> {
//!         Ok(Verdict::healthy("nginx answers"))
//!     }
//!     fn rollback(_incident: &Incident) -> Result<String, Error> {
//!         Ok("nothing to undo".to_string())
//!     }
//! }
//!
//! medic_guest_sdk::export_remediation!(RestartNginx);
//! ```
#![warn(missing_docs)]

pub mod checkpoint;
pub mod env;
mod error;
pub mod exec;
pub mod fs;
pub mod http;
mod incident;
pub mod log;

pub use error::Error;
pub use incident::{Incident, Step, Verdict};

/// Bindings generated from `wit/medic.wit`. Authors do not need them directly; they are
/// public for [`export_remediation!`].
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "remediation-world",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_remediation",
        default_bindings_module: "$crate::bindings",
    });
}

/// What a remediation implements. medic calls `plan` on `--dry-run`; otherwise `apply`,
/// then `verify`, then `rollback` when `verify` reports the incident is not healed (or
/// `apply` failed).
pub trait Remediation {
    /// A dry run: the steps `apply` would take, without changing anything.
    fn plan(incident: &Incident) -> Result<Vec<Step>, Error>;
    /// Make the change and return a one-line summary. Save what `rollback` needs with
    /// [`checkpoint::save`] before changing anything.
    fn apply(incident: &Incident) -> Result<String, Error>;
    /// Check whether the incident is healed.
    fn verify(incident: &Incident) -> Result<Verdict, Error>;
    /// Undo what `apply` did, from its checkpoints; may run in a fresh instance.
    fn rollback(incident: &Incident) -> Result<String, Error>;
}

/// Export a type implementing [`Remediation`] as the component's `remediation` interface:
/// `medic_guest_sdk::export_remediation!(MyFix);` once per crate (see the crate example).
#[macro_export]
macro_rules! export_remediation {
    ($ty:ident) => {
        // Only a wasm32 build exports the component interface; a native build of the same
        // crate (its unit tests, `cargo test --workspace`) has nothing to export.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __MedicRemediationExport;

            impl $crate::bindings::exports::medic::remediation::remediation::Guest
                for __MedicRemediationExport
            {
                fn plan(
                    incident: $crate::bindings::medic::remediation::types::Incident,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::bindings::medic::remediation::types::Step>,
                    $crate::bindings::medic::remediation::types::HostError,
                > {
                    $crate::__private::plan::<$ty>(incident)
                }
                fn apply(
                    incident: $crate::bindings::medic::remediation::types::Incident,
                ) -> ::core::result::Result<
                    ::std::string::String,
                    $crate::bindings::medic::remediation::types::HostError,
                > {
                    $crate::__private::apply::<$ty>(incident)
                }
                fn verify(
                    incident: $crate::bindings::medic::remediation::types::Incident,
                ) -> ::core::result::Result<
                    $crate::bindings::medic::remediation::types::Verdict,
                    $crate::bindings::medic::remediation::types::HostError,
                > {
                    $crate::__private::verify::<$ty>(incident)
                }
                fn rollback(
                    incident: $crate::bindings::medic::remediation::types::Incident,
                ) -> ::core::result::Result<
                    ::std::string::String,
                    $crate::bindings::medic::remediation::types::HostError,
                > {
                    $crate::__private::rollback::<$ty>(incident)
                }
            }

            $crate::bindings::__export_remediation!(__MedicRemediationExport);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            // Keep the type checked against the trait in native builds too.
            fn assert_remediation<R: $crate::Remediation>() {}
            assert_remediation::<$ty>();
        };
    };
}

/// Glue called by [`export_remediation!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    use crate::bindings::medic::remediation::types as wit;
    use crate::{Incident, Remediation};

    pub fn plan<R: Remediation>(incident: wit::Incident) -> Result<Vec<wit::Step>, wit::HostError> {
        let steps = R::plan(&Incident::from(incident))?;
        Ok(steps.into_iter().map(wit::Step::from).collect())
    }

    pub fn apply<R: Remediation>(incident: wit::Incident) -> Result<String, wit::HostError> {
        Ok(R::apply(&Incident::from(incident))?)
    }

    pub fn verify<R: Remediation>(incident: wit::Incident) -> Result<wit::Verdict, wit::HostError> {
        Ok(R::verify(&Incident::from(incident))?.into())
    }

    pub fn rollback<R: Remediation>(incident: wit::Incident) -> Result<String, wit::HostError> {
        Ok(R::rollback(&Incident::from(incident))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_calls_in_a_native_build_say_there_is_no_host() {
        let cases: Vec<(Error, &str)> = vec![
            (exec::run("/usr/bin/true", &[]).unwrap_err(), "exec::run"),
            (http::get("http://127.0.0.1/").unwrap_err(), "http::send"),
            (http::connect("127.0.0.1", 80).unwrap_err(), "http::connect"),
            (fs::read("/etc/hostname").unwrap_err(), "fs::read"),
            (fs::write("/tmp/x", b"x").unwrap_err(), "fs::write"),
            (fs::list("/tmp").unwrap_err(), "fs::list"),
            (fs::metadata("/tmp").unwrap_err(), "fs::metadata"),
            (fs::create_dir("/tmp/x").unwrap_err(), "fs::create_dir"),
            (fs::rename("/tmp/a", "/tmp/b").unwrap_err(), "fs::rename"),
            (fs::remove_file("/tmp/x").unwrap_err(), "fs::remove_file"),
            (env::get("HOME").unwrap_err(), "env::get"),
            (checkpoint::save("k", b"v").unwrap_err(), "checkpoint::save"),
            (checkpoint::load("k").unwrap_err(), "checkpoint::load"),
        ];
        for (error, call) in cases {
            assert_eq!(error, Error::NotInSandbox { call });
            assert!(
                error.to_string().contains("only inside medic's sandbox"),
                "{error}"
            );
        }
        log::info("a native log line goes to stderr");
        log::progress(150, "and progress too");
    }

    #[test]
    fn a_test_incident_carries_what_it_is_given() {
        let incident = Incident::new("service", "web", "service_down")
            .with_param("port", "80")
            .with_param("port", "8080")
            .with_label("team", "web");
        assert_eq!(incident.param("port"), Some("8080"));
        assert_eq!(incident.label("team"), Some("web"));
        assert_eq!(
            incident.require_param("missing"),
            Err(Error::InvalidInput {
                message: "incident has no parameter `missing`".to_string()
            })
        );
    }
}
