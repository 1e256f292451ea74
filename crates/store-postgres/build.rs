//! Rebuild when a migration is added: the migrations are embedded at
//! compile time, and a new file alone changes no source file.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
