//! A corpus manifest (`manifest.json`): version, fields, tokenizer fingerprint, domain space.
#![no_main]
use libfuzzer_sys::fuzz_target;
mod common;

fuzz_target!(|data: &[u8]| {
    common::write("manifest.json", data);
    if let Ok(m) = mixagent_shard::Manifest::load(&common::scratch()) {
        let _ = m.domain_space();
        let _ = m.field_space();
    }
});
