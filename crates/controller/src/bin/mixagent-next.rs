//! `mixagent-next STATE.json`: `mixagent next --state STATE.json` as a small standalone binary
//! that links no libtorch, for launchers on machines without mixagent's full install.
//! Prints the next stage's mixture as JSON; exit code 1 with the reason on bad input.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = match args.as_slice() {
        [p] if p != "--help" && p != "-h" => std::path::PathBuf::from(p),
        _ => {
            eprintln!(
                "usage: mixagent-next STATE.json\n\nPrints the next stage's mixture for the policy, domains and history of mixtures\nand feedback in STATE.json (the format of `mixagent next`; see docs/controller.md)."
            );
            return std::process::ExitCode::from(2);
        }
    };
    let result = mixagent_controller::ControllerState::read(&path)
        .and_then(|s| mixagent_controller::answer_next(s, &path.display().to_string()));
    match result {
        Ok(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer).expect("json"));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
