//! Embeds an rpath to libtorch (see the `mixagent-rpath` crate).
fn main() {
    mixagent_rpath::emit();
}
