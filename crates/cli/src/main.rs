//! `mixagent`: the command-line entry point. A thin dispatcher; the work lives in the crates.

mod children;
mod commands;
mod flags;
mod plans;
mod schedule;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Learned data mixing for continual pre-training.
#[derive(Parser)]
#[command(name = "mixagent", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole pipeline at the demo scale: set-up, prepare, pretrain, collect, train the
    /// agent, compare it with every baseline; ends with the table and the report.
    Demo(commands::demo::Args),
    /// Turn raw corpora into domain-labelled token shards and a manifest.
    Prepare(commands::prepare::Args),
    /// Train a base model on the source field only.
    Pretrain(commands::pretrain::Args),
    /// Continue a base model under a schedule of mixtures.
    Cpt(commands::cpt::Args),
    /// Evaluate a checkpoint: feedback suites, held-out bits per byte, benchmark suite.
    Eval(commands::eval::Args),
    /// Roll out mixing trajectories on proxy models (resumable; parallel; Slurm slices).
    Collect(commands::collect::Args),
    /// Train the mixing agent on collected trajectories (warm-up, then CQL).
    TrainAgent(commands::train_agent::Args),
    /// Choose the agent's settings on held-out proxy runs: a grid of candidates, each trained
    /// and run on held-out seeds beside uniform; the best is kept with its selection.
    SelectAgent(commands::select_agent::Args),
    /// What an agent's critics value along the source/target split at every stage of a run.
    ExplainAgent(commands::explain_agent::Args),
    /// Every policy steers the same CPT run over seeds; one table with 95% intervals.
    ///
    /// The config's keys: `run`, `set`, `seeds`, `policies`, `title`, `benchmarks`,
    /// `task_items`, `final_items`, `static_observe_items` (see `experiments/compare-*.toml`).
    Compare(commands::compare::Args),
    /// Does mixing matter for this corpus, by how much, and where: the headroom gates, paired.
    ///
    /// The config's keys: `run`, `set`, `proxy_set`, `branch_set`, `selection_seeds`, `relevance_seeds`,
    /// `confirm_seeds`, `statics`, `concentration`, `seed`, `trajectories`, `branches`,
    /// `branch_stage`, `task_items`, `final_items`, `relevance`, `title` (see
    /// `experiments/headroom-*.toml`).
    Headroom(commands::headroom::Args),
    /// MixMin's mixture for a run config: one proxy per entry, then the convex fit of their
    /// ensemble to the feedback (run it as the policy `mixmin:OUT`).
    Mixmin(commands::mixmin::Args),
    /// The next stage's mixture for a run in another trainer, from its feedback so far.
    Next(commands::next::Args),
    /// Write a schedule (a run's, or a static policy's) in a trainer's config format.
    Export(commands::export::Args),
    /// Check a schedule against each domain's tokens: epochs, starved domains, exhaustion.
    Preflight(commands::preflight::Args),
    /// Plan, list, show and export trajectories.
    Trajectories {
        #[command(subcommand)]
        command: commands::trajectories::Command,
    },
    /// Inspect a prepared corpus.
    Corpus {
        #[command(subcommand)]
        command: commands::corpus::Command,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: commands::bench::Command,
    },
}

fn main() -> ExitCode {
    mixagent_lm::tune_allocator();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MIXAGENT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .compact()
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Prepare(args) => commands::prepare::run(args),
        Command::Pretrain(args) => commands::pretrain::run(args),
        Command::Cpt(args) => commands::cpt::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Collect(args) => commands::collect::run(args),
        Command::TrainAgent(args) => commands::train_agent::run(args),
        Command::SelectAgent(args) => commands::select_agent::run(args),
        Command::ExplainAgent(args) => commands::explain_agent::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Headroom(args) => commands::headroom::run(args),
        Command::Mixmin(args) => commands::mixmin::run(args),
        Command::Next(args) => commands::next::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Preflight(args) => commands::preflight::run(args),
        Command::Trajectories { command } => commands::trajectories::run(command),
        Command::Corpus { command } => commands::corpus::run(command),
        Command::Bench { command } => commands::bench::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, each cause once (an error that already quotes its
/// cause is not followed by it again), plus what to do about a full disk, a read-only file
/// system or a permission error.
fn error_message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg = format!("{msg}: {c}");
        }
    }
    let io = e.chain().find_map(|c| c.downcast_ref::<std::io::Error>()).map(|io| io.kind());
    let hint = match io {
        Some(std::io::ErrorKind::StorageFull) => {
            "\n  the disk is full: free space or write elsewhere (--out), then rerun; finished work is kept"
        }
        Some(std::io::ErrorKind::ReadOnlyFilesystem) => {
            "\n  the file system is read-only: write elsewhere (--out)"
        }
        Some(std::io::ErrorKind::PermissionDenied) => {
            "\n  permission denied: check the folder's owner and mode, or write elsewhere (--out)"
        }
        _ => "",
    };
    msg + hint
}
