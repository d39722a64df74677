//! The agent's training config (TOML, with `--set` overrides), as `train-agent` reads it. This
//! target links libtorch through `mixagent-agent`; run it with libtorch on the library path:
//! `LD_LIBRARY_PATH=.deps/libtorch/lib cargo +nightly fuzz run agent_config`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = mixagent_agent::AgentConfig::load(Some(text), &[]);
    let _ = mixagent_agent::AgentConfig::load(Some(text), &["cql.alpha=2".into(), "net.d_model=x".into()]);
});
