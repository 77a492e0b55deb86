//! `hotpatch watch` end to end against the real VM: saves pushed over the one connection it keeps
//! open (asked of the agent: which connections it holds), an editor hook's `hotpatch push FILE`
//! handed to the running watch over its socket and printing what a push of its own would, the
//! hook pushing by itself when no watch runs or the watch was killed and left its socket behind
//! (reading only the file it pushes), and the connection opened again after the agent restarted.

mod common;

use common::Vm;
use common::project::Project;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `hotpatch watch` whose stderr goes to a log file.
struct Watch {
    child: Child,
    log: PathBuf,
}

impl Watch {
    /// Starts `hotpatch watch` in the project and waits until it says it is watching.
    fn start(p: &Project, settle_ms: u64, log_name: &str) -> Watch {
        let log = p.dir.join(log_name);
        let file = std::fs::File::create(&log).expect("create the watch log");
        let child = Command::new(common::project::hotpatch_exe())
            .args(["watch", "--settle-ms", &settle_ms.to_string()])
            .current_dir(&p.dir)
            .env("HOTPATCH_TOKEN", &p.token)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start hotpatch watch");
        let w = Watch { child, log };
        assert!(
            until(|| w.log().contains("watching")),
            "watch did not start:\n{}",
            w.log()
        );
        w
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it as Ctrl-C would (SIGTERM) and waits for it to end.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success());
        let ended = until(|| matches!(self.child.try_wait(), Ok(Some(_))));
        assert!(ended, "watch did not stop on SIGTERM:\n{}", self.log());
        self.log()
    }

    /// Kills it outright (SIGKILL): nothing is cleaned up.
    fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for `what` (checked every 50 ms) for as long as a busy machine may need.
fn until(mut what: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if what() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The peers (`address:port`) of the authenticated connections the agent holds, asked over a
/// connection of its own (which is one of them).
fn peers(vm: &Vm) -> BTreeSet<String> {
    let answer = vm.eval(
        "| server all | \
         server := HpAgent current instVarAt: (HpAgent allInstVarNames indexOf: 'server'). \
         all := server instVarAt: (server class allInstVarNames indexOf: 'connections'). \
         (all select: [:c | c isAuthenticated]) inject: '' into: [:text :c | text , c peer , ' ']",
    );
    answer
        .trim_matches('\'')
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn socket(p: &Project) -> PathBuf {
    p.dir.join(".hotpatch/watch.sock")
}

fn greet(vm: &Vm) -> String {
    vm.eval("SampleApp default greet: 'x'")
}

/// Rewrites the greeting of SampleApp>>greet: to `word`.
fn set_greeting(p: &Project, word: &str) {
    let file = p.file("SampleApp.class.st");
    let text = std::fs::read_to_string(&file).expect("read SampleApp");
    let start = text.find("^ '").expect("the greeting") + 3;
    let end = start + text[start..].find(", '").expect("end of the greeting");
    let edited = format!("{}{word}{}", &text[..start], &text[end..]);
    std::fs::write(&file, edited).expect("write SampleApp");
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn every_save_is_pushed_over_the_one_connection_the_watch_keeps() {
    let vm = Vm::start();
    let p = Project::new(&vm, "one-connection");
    p.run(&["push"], 0);
    let w = Watch::start(&p, 0, "watch.log");
    let mut seen = Vec::new();
    for word in ["One", "Two", "Three"] {
        set_greeting(&p, word);
        let expected = format!("'{word}, X!'");
        assert!(
            until(|| greet(&vm) == expected),
            "the save did not reach the image:\n{}",
            w.log()
        );
        // Asked between saves: the watch's connection is there, and it is the same one.
        seen.push(peers(&vm));
    }
    let kept: BTreeSet<&String> = seen
        .iter()
        .skip(1)
        .fold(seen[0].iter().collect(), |all, next| {
            all.into_iter().filter(|x| next.contains(*x)).collect()
        });
    let log = w.stop();
    assert_eq!(
        kept.len(),
        1,
        "one connection held through every save, got {kept:?} of {seen:?}\n{log}"
    );
    assert_eq!(log.matches("pushed in").count(), 3, "{log}");
    assert!(!socket(&p).exists(), "the socket is removed on exit");
}

#[test]
fn a_save_hook_hands_its_push_to_the_running_watch_and_prints_what_its_own_would() {
    let vm = Vm::start();
    let p = Project::new(&vm, "hand-off");
    p.run(&["push"], 0);
    // A long settle time: the watch would push the save itself only after a minute, and the hook
    // pushes it first.
    let w = Watch::start(&p, 60_000, "watch.log");
    let app = p.file("SampleApp.class.st");
    set_greeting(&p, "Handed");
    let out = p.run(&["push", path_arg(&app)], 0);
    assert!(out.contains("pushed to local"), "{out}");
    assert_eq!(greet(&vm), "'Handed, X!'");
    assert!(
        until(|| w
            .log()
            .contains("SampleApp.class.st (save hook): pushed in")),
        "the watch did not push it:\n{}",
        w.log()
    );
    // --json too: the report a push prints.
    set_greeting(&p, "Json");
    let report = p.push_json(&[path_arg(&app)], 0);
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(greet(&vm), "'Json, X!'");

    // A file with a syntax error: the same exit code and the same errors as a push of its own.
    p.edit(
        "SampleCounter.class.st",
        "count := count + 1.",
        "count := count + .",
    );
    let counter = p.file("SampleCounter.class.st");
    let handed = p.hotpatch(&["push", path_arg(&counter)]);
    let log = w.stop();
    assert_eq!(log.matches("(save hook): pushed in").count(), 2, "{log}");
    assert!(
        log.contains("SampleCounter.class.st (save hook)"),
        "the broken file went to the watch too:\n{log}"
    );
    assert!(!socket(&p).exists(), "the socket is removed on exit");
    let own = p.hotpatch(&["push", path_arg(&counter)]);
    // Refused for its syntax before anything is sent (exit 2), by the watch as by the push.
    assert_eq!(handed.status.code(), Some(2), "{handed:?}");
    assert_eq!(handed.status.code(), own.status.code());
    assert_eq!(
        String::from_utf8_lossy(&handed.stderr),
        String::from_utf8_lossy(&own.stderr)
    );
    assert!(
        String::from_utf8_lossy(&own.stderr).contains("SampleCounter.class.st:"),
        "{own:?}"
    );
    assert_eq!(vm.eval("SampleCounter new increment"), "1");
}

#[test]
fn with_no_watch_or_a_dead_one_the_hook_pushes_by_itself() {
    let vm = Vm::start();
    let p = Project::new(&vm, "fallback");
    p.run(&["push"], 0);
    let app = p.file("SampleApp.class.st");
    // No watch at all. A push of one file reads that file only: another one half written
    // (no valid Tonel) stops a push of the whole package, not this one.
    p.write("SampleHalf.class.st", "Class {\n\t#name : 'SampleHalf',\n");
    set_greeting(&p, "Alone");
    p.run(&["push", path_arg(&app)], 0);
    assert_eq!(greet(&vm), "'Alone, X!'");
    let whole = p.run(&["push"], 2);
    assert!(whole.contains("SampleHalf.class.st:"), "{whole}");
    std::fs::remove_file(p.file("SampleHalf.class.st")).expect("remove SampleHalf");

    // A watch killed outright leaves its socket behind: nobody answers on it.
    let w = Watch::start(&p, 60_000, "first.log");
    let log = w.kill();
    assert!(socket(&p).exists(), "a killed watch cannot clean up");
    set_greeting(&p, "Stale");
    p.run(&["push", path_arg(&app)], 0);
    assert_eq!(greet(&vm), "'Stale, X!'");
    assert!(!log.contains("(save hook)"), "{log}");

    // A new watch takes the stale socket over and gets the hook's pushes; a second one refuses
    // to start beside it.
    let w = Watch::start(&p, 60_000, "second.log");
    let second = p.hotpatch(&["watch"]);
    assert_eq!(second.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another `hotpatch watch` is running"),
        "{second:?}"
    );
    set_greeting(&p, "Taken");
    let out = p.run(&["push", path_arg(&app)], 0);
    assert_eq!(greet(&vm), "'Taken, X!'");
    let log = w.stop();
    assert!(log.contains("(save hook): pushed in"), "{log}\n{out}");
}

#[test]
fn the_watch_connects_again_after_the_agent_restarted() {
    let vm = Vm::start();
    let p = Project::new(&vm, "reconnect");
    p.run(&["push"], 0);
    let w = Watch::start(&p, 0, "watch.log");
    set_greeting(&p, "Before");
    assert!(until(|| greet(&vm) == "'Before, X!'"), "{}", w.log());
    // The image is saved and started again: the watch's connection is gone.
    let vm = vm.save_and_restart();
    set_greeting(&p, "After");
    assert!(
        until(|| greet(&vm) == "'After, X!'"),
        "the save after the restart did not reach the image:\n{}",
        w.log()
    );
    let log = w.stop();
    assert!(!log.contains("not pushed"), "{log}");
}
