//! The `cao` binary.
fn main() {
    println!("cao {}", env!("CARGO_PKG_VERSION"));
}
