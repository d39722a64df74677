//! Build-script helper: embeds an rpath to libtorch's libraries so the binaries and test
//! binaries of the crates that link tch run without `LD_LIBRARY_PATH`. `rustc-link-arg` only
//! reaches the calling package's own targets, so every such crate's `build.rs` calls [`emit`].

/// Prints the cargo directives (call from `build.rs`).
pub fn emit() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Some(lib) = std::env::var_os("LIBTORCH") {
        let lib = std::path::PathBuf::from(lib).join("lib");
        let lib = lib.canonicalize().unwrap_or(lib);
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
