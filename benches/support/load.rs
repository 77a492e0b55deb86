//! What the benchmarks share: the machine's load, printed beside every figure (figures from a
//! busy machine mean little without it). Included with `#[path]`; not a benchmark of its own.

/// The 1, 5 and 15 minute load averages (Linux), or "unknown".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}
