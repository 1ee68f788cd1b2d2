//! The `medic` binary: parse arguments, set up tracing on stderr, run one command, map
//! the result to an exit code (see `cli/exit.rs`).

mod cli;

fn main() {
    std::process::exit(cli::main());
}
