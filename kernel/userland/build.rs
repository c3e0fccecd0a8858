fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../targets");
    println!("cargo:rustc-link-arg-bins=-T{}", dir.join("user.ld").display());
    println!("cargo:rerun-if-changed=../../targets/user.ld");
}
