//! The controller's JSON state, rebuilt and asked for the next mixture (policies that read
//! files are swapped for one that does not, so inputs cannot name arbitrary paths).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(mut state) = mixagent_controller::ControllerState::from_json(text, "fuzz") else {
        return;
    };
    if state.policy.contains(':') && !state.policy.starts_with("fixed:") {
        state.policy = "doremi".into();
    }
    state.total_stages = state.total_stages.min(64);
    if let Ok(mut c) = mixagent_controller::Controller::from_state(state) {
        if let Ok(m) = c.next_mixture() {
            let sum: f64 = m.weights().iter().sum();
            assert!((sum - 1.0).abs() < 1e-6, "{sum}");
        }
    }
});
