//! The `hotpatch` binary: all the work is in the library; this only maps the outcome to an exit code.

/// Many small allocations (a string per selector, protocol and source); see Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(hotpatch::cli::main());
}
