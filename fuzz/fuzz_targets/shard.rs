//! A shard file: header, sizes, checksums, document index. Opening must fail cleanly or give
//! a shard whose every read is in bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::write("shard.bin", data);
    if let Ok(shard) = mixagent_shard::Shard::open(&path, None) {
        let n = shard.len();
        let _ = shard.doc_starts();
        let mut out = vec![0u32; n.min(64)];
        shard.copy_to(0, &mut out);
        if n > out.len() {
            shard.copy_to(n - out.len(), &mut out);
        }
    }
});
