//! Configs: a collection / run config (TOML, with `--set` overrides) and a compare config.
#![no_main]
use libfuzzer_sys::fuzz_target;
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::write("config.toml", data);
    let _ = mixagent_trajectory::CollectConfig::load(&path, &[]);
    let _ = mixagent_trajectory::CollectConfig::load(&path, &["stages=3".into(), "train.seq_len=x".into()]);
    let _ = mixagent_report::CompareConfig::load(&path);
    if let Ok(text) = std::str::from_utf8(data) {
        let mut root = toml::Value::Table(Default::default());
        let _ = mixagent_core::apply_override(&mut root, text);
    }
});
