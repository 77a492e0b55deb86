//! The `hotpatch` binary: all the work is in the library; this only maps the outcome to an exit code.

fn main() {
    std::process::exit(hotpatch::cli::main());
}
