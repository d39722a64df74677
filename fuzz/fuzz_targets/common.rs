// Shared by the fuzz targets: a per-process scratch folder on which inputs are written as the
// files the readers open.
use std::path::PathBuf;

pub fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mixagent-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

pub fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("scratch file");
    path
}
