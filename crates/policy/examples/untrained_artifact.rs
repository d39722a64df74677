//! Writes an agent artifact with random (untrained) weights: a stand-in with the real format
//! for testing the plumbing around a policy (the Python module's tests use it) without
//! training one. Its decisions mean nothing.
//!
//! `cargo run -p mixagent-policy --example untrained_artifact -- DIR [SEED]`

use mixagent_policy::{AgentSchema, Policy, PolicyNet};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: untrained_artifact DIR [SEED]");
        std::process::exit(2);
    };
    let seed: u64 = args.next().map_or(0, |s| s.parse().expect("SEED is a number"));
    let schema = AgentSchema::untrained(16, 2, 32, 1);
    let tensors = PolicyNet::random_tensors(&schema.net, seed, 0.5);
    match Policy::save(std::path::Path::new(&dir), schema, &tensors) {
        Ok(_) => println!("untrained agent artifact written to {dir}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
