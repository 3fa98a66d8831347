// Shared by every firmware crate (`build = "../build.rs"`): puts `memory.x` on the
// linker's search path and links with cortex-m-rt's `link.x` (and defmt's `defmt.x`
// for the defmt firmware).
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    println!("cargo:rustc-link-search={}", dir.display());
    println!("cargo:rerun-if-changed=../memory.x");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    if env!("CARGO_PKG_NAME") == "asyncdrop-fw-defmt" {
        println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    }
}
