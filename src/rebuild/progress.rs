//! What the user sees while a rebuild runs: one line per phase with the elapsed time, and the
//! VM's output and the image's log as they come, indented. Plain lines on stderr rather than a
//! spinner: rebuilds mostly run in deploy jobs whose output is a log file, not a terminal, and
//! stdout stays free for `--json`. What the VM and the image say is shown escaped
//! ([`crate::term`]).

use crate::term::{errln, escape};
use std::time::Instant;

/// Where progress goes (stderr), with the clock of the whole run.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    quiet: bool,
}

impl Progress {
    /// Progress printed on stderr.
    pub fn stderr() -> Progress {
        Progress {
            started: Instant::now(),
            quiet: false,
        }
    }

    /// No output at all (benchmarks, library callers that report on their own).
    pub fn quiet() -> Progress {
        Progress {
            started: Instant::now(),
            quiet: true,
        }
    }

    /// A phase begins or reaches a milestone: `[  12.3s] build: message`.
    pub fn phase(&self, phase: &str, message: &str) {
        if !self.quiet {
            errln!(
                "[{:>7.1}s] {phase}: {message}",
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    /// A line of output from the VM or the image's log, shown under the current phase.
    pub fn output(&self, source: &str, line: &str) {
        if !self.quiet {
            // The VM's output and the image's log are outside text: a line is one line.
            errln!("           {source} | {}", escape(line));
        }
    }
}
