//! Approval on the command line: `--yes` approves; on a terminal medic shows the option's
//! steps and blast radius and asks; with neither, nothing that needs approval runs (the
//! incident escalates). Every answer is audited by the heal loop with who and how.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use medic::heal::{Approval, Approver};
use medic::incident::Incident;
use medic::plan::PlanOption;
use medic::policy::Decision;
use medic::text::escape_control;

use super::progress::Progress;

/// The operating-system user medic runs as, by name when it has one.
pub(crate) fn os_user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| format!("uid {uid}"), |user| user.name)
}

pub(crate) struct CliApprover {
    pub(crate) yes: bool,
    pub(crate) progress: Arc<Progress>,
}

impl Approver for CliApprover {
    fn approve(&self, incident: &Incident, option: &PlanOption, decision: &Decision) -> Approval {
        let by = os_user();
        if self.yes {
            return Approval {
                approved: true,
                by,
                how: "--yes".to_string(),
            };
        }
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Approval {
                approved: false,
                by: "nobody (no terminal to ask on)".to_string(),
                how: "no-tty".to_string(),
            };
        }
        let approved = self.progress.suspend(|| {
            let mut err = std::io::stderr().lock();
            let name = option.remediation.as_deref().unwrap_or("?");
            let _ = writeln!(
                err,
                "\nmedic wants to run `{}` (risk {}, confidence {:.2}) on {} `{}`: {}",
                escape_control(name),
                option.risk.as_str(),
                option.confidence,
                escape_control(&incident.resource.kind),
                escape_control(&incident.resource.id),
                escape_control(&decision.reason)
            );
            for step in &option.steps {
                let _ = writeln!(
                    err,
                    "  - [{}] {}  -- {}",
                    escape_control(&step.capability),
                    escape_control(&step.target),
                    escape_control(&step.detail)
                );
            }
            let radius = &option.blast_radius;
            for (label, items) in [
                ("programs", &radius.programs),
                ("urls", &radius.urls),
                ("paths", &radius.paths),
                ("env", &radius.env),
            ] {
                if !items.is_empty() {
                    let _ = writeln!(
                        err,
                        "  may touch {label}: {}",
                        escape_control(&items.join("; "))
                    );
                }
            }
            let _ = write!(err, "Run it? [y/N] ");
            let _ = err.flush();
            let mut answer = String::new();
            let _ = std::io::stdin().lock().read_line(&mut answer);
            matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
        });
        Approval {
            approved,
            by,
            how: "tty".to_string(),
        }
    }
}
