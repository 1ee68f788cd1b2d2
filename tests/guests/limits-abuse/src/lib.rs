//! Hostile guest: exhausts the resource named by `attack` (`loop`, `memory`, `recursion`,
//! `log-flood`, `stdout-flood`, `call-flood`), to test that `limits` stops it and the host
//! carries on. `none` does nothing, so a test can show the guest runs fine otherwise;
//! `rollback` writes `rolled-back` to the checkpoint so a test can see it ran afterwards.

use medic_guest_sdk::{Error, Incident, Remediation, Step, Verdict, checkpoint, env, log};

struct LimitsAbuse;

#[inline(never)]
fn recurse(depth: u64, trail: &mut [u64; 64]) -> u64 {
    trail[(depth % 64) as usize] = depth;
    if depth == u64::MAX {
        depth
    } else {
        recurse(depth + 1, trail) + trail[(depth % 7) as usize]
    }
}

impl Remediation for LimitsAbuse {
    fn plan(_incident: &Incident) -> Result<Vec<Step>, Error> {
        Ok(vec![Step::note("exhaust a limit")])
    }

    fn apply(incident: &Incident) -> Result<String, Error> {
        match incident.require_param("attack")? {
            "none" => Ok("behaved".to_string()),
            "loop" => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recursion" => {
                let mut trail = [0u64; 64];
                Ok(format!("{}", recurse(0, &mut trail)))
            }
            "log-flood" => loop {
                log::info("flooding the operator's log with a long line of text, again and again");
            },
            "stdout-flood" => loop {
                println!("flooding stdout with a long line of text, again and again and again");
            },
            "call-flood" => loop {
                let _ = env::get("UNDECLARED");
            },
            other => Err(Error::failed(format!("unknown attack {other}"))),
        }
    }

    fn verify(_incident: &Incident) -> Result<Verdict, Error> {
        Ok(Verdict::healthy("survived"))
    }

    fn rollback(_incident: &Incident) -> Result<String, Error> {
        checkpoint::save_str("rollback", "rolled-back")?;
        Ok("rolled back".to_string())
    }
}

medic_guest_sdk::export_remediation!(LimitsAbuse);
