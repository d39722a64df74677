//! Embeds an rpath to libtorch's libraries so test binaries run without LD_LIBRARY_PATH.
fn main() {
    mixagent_rpath();
}

fn mixagent_rpath() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Some(lib) = std::env::var_os("LIBTORCH") {
        let lib = std::path::PathBuf::from(lib).join("lib");
        let lib = lib.canonicalize().unwrap_or(lib);
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
