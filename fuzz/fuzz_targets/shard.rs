//! A shard file: header, sizes, checksums, document index. Opening must fail cleanly or give
//! a shard whose every read is in bounds. Each input is tried as is and with its magic and
//! both checksums made valid, so mutations also reach the size and document-index checks
//! behind the checksums.
#![no_main]
use libfuzzer_sys::fuzz_target;
mod common;

fn open_and_read(name: &str, bytes: &[u8]) {
    let path = common::write(name, bytes);
    if let Ok(shard) = mixagent_shard::Shard::open(&path, None) {
        let n = shard.len();
        let _ = shard.doc_starts();
        let mut out = vec![0u32; n.min(64)];
        shard.copy_to(0, &mut out);
        if n > out.len() {
            shard.copy_to(n - out.len(), &mut out);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    open_and_read("shard.bin", data);
    if data.len() >= 64 {
        let mut fixed = data.to_vec();
        fixed[0..8].copy_from_slice(&mixagent_shard::SHARD_MAGIC);
        let payload = crc32fast::hash(&fixed[64..]);
        fixed[20..24].copy_from_slice(&payload.to_le_bytes());
        let header = crc32fast::hash(&fixed[0..60]);
        fixed[60..64].copy_from_slice(&header.to_le_bytes());
        open_and_read("shard-fixed.bin", &fixed);
    }
});
