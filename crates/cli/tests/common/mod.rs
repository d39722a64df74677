//! Helpers shared by the CLI test files.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The real `mixagent` binary, quiet on stderr but for warnings.
pub fn mixagent() -> Command {
    let mut c = Command::cargo_bin("mixagent").unwrap();
    c.env("MIXAGENT_LOG", "warn");
    c
}

/// Whether `scripts/setup.sh` installed the raw corpora. Without them a real-data test skips,
/// unless `MIXAGENT_REQUIRE_DATA` is set (as `scripts/test.sh` does), where it fails.
pub fn raw_available() -> bool {
    let raw = mixagent_corpus::default_cache_dir().join("raw");
    if raw.join("brown").exists() {
        return true;
    }
    assert!(
        std::env::var_os("MIXAGENT_REQUIRE_DATA").is_none(),
        "raw corpora missing at {}: run scripts/setup.sh",
        raw.display()
    );
    eprintln!("skipped: raw corpora not installed at {} (run scripts/setup.sh)", raw.display());
    false
}

/// Prepares the real `smoke` corpus into `dir/smoke` and returns its path.
pub fn prepare_smoke(dir: &Path) -> PathBuf {
    let out = dir.join("smoke");
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml");
    mixagent().args(["prepare", "--config"]).arg(&cfg).arg("--out").arg(&out).assert().success();
    out
}
