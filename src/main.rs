//! The `hotpatch` binary: all the work is in the library; this only maps the outcome to an exit code.

/// Many small allocations (a string per selector, protocol and source); see Cargo.toml.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Like every Unix filter, end quietly when the reader of our output goes away
    // (`hotpatch status | head -3`): Rust ignores SIGPIPE, so a write would panic instead.
    // SAFETY: restoring a signal's default disposition before any thread is started.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    std::process::exit(hotpatch::cli::main());
}
