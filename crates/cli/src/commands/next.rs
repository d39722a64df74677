//! `mixagent next --state state.json`: the controller as a command, for trainers that run
//! between stages in another process. It reads the state (policy, domain space, the base
//! model's observation and every finished stage's mixture and feedback) and prints the next
//! stage's mixture as JSON. It changes nothing: the trainer appends the stage it trained, with
//! the feedback measured after it, to `stages` before asking again.

use std::path::PathBuf;

use mixagent_controller::{answer_next, ControllerState};

/// `mixagent next`.
#[derive(clap::Args)]
#[command(after_help = concat!(
    "The state file (JSON):\n",
    "  {\"format_version\": 1, \"policy\": \"agent:runs/agent-demo\", \"seed\": 0, \"total_stages\": 10,\n",
    "   \"domains\": [{\"name\": \"web\", \"field\": \"general\", \"tokens\": 8000000},\n",
    "               {\"name\": \"proofs\", \"field\": \"math\", \"tokens\": 1000000}],\n",
    "   \"initial\": {\"feedback\": {\"general\": -2.91, \"math\": -3.84}, \"domain_loss\": {}},\n",
    "   \"stages\": [{\"weights\": {\"web\": 0.6, \"proofs\": 0.4}, \"tokens\": 1000000,\n",
    "                \"observation\": {\"feedback\": {\"general\": -2.95, \"math\": -3.41}, \"domain_loss\": {}}}]}\n",
    "Feedback is, per field, the mean per-token log-probability of the gold answers of that field's\n",
    "feedback suite (higher is better). `domain_loss` (held-out loss per domain, nats per token) is\n",
    "optional for the agent and needed by dbl and doremi. See docs/controller.md."
))]
pub struct Args {
    /// The controller state (JSON).
    #[arg(long)]
    pub state: PathBuf,
    /// Also write the answer to this file (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs `next`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let state = ControllerState::read(&a.state)?;
    let answer = answer_next(state, &a.state.display().to_string())?;
    let json = serde_json::to_string_pretty(&answer).expect("json");
    if let Some(out) = &a.out {
        mixagent_shard::write_atomic(out, json.as_bytes())?;
    }
    println!("{json}");
    Ok(())
}
