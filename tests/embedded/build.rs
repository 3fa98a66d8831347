// Shared by every firmware crate (`build = "../build.rs"`): puts `memory.x` on the
// linker's search path and links with cortex-m-rt's `link.x`.
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    println!("cargo:rustc-link-search={}", dir.display());
    println!("cargo:rerun-if-changed=../memory.x");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
