//! Trajectory files of the store and steered runs (`run.json`), and what the report and the
//! baselines read from them.
#![no_main]
use libfuzzer_sys::fuzz_target;
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::write("trajectory.json", data);
    if let Ok(t) = mixagent_trajectory::Trajectory::read(&path) {
        let _ = mixagent_trajectory::stage_records(std::slice::from_ref(&t));
    }
    if let Ok(run) = mixagent_trajectory::SteeredRun::read(&path) {
        let _ = run.final_balanced();
        let _ = run.target_share(&[0.5, 0.5]);
        let _ = mixagent_report::summarise(&[(run.policy.clone(), vec![run])]);
    }
});
