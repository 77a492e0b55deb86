//! Test harness for integration tests: runs a REAL VM with the hotpatch agent filed in, on a free
//! loopback port with a random token. No fakes: every assertion about the image is made by asking
//! the running image.
//!
//! The runtime comes from the environment ([`smalltalk::Runtime`]): by default the Squeak VM on the
//! test image (Debian's Scratch.image, bootstrapped by `smalltalk-agent/testvm/build-test-image.sh`,
//! built once per machine and cached under `target/testvm`); Cuis or Pharo when
//! `HOTPATCH_TEST_RUNTIME` names them. Each [`Vm`] runs in its own directory under
//! `target/vm-runs/`, removed when the test passes and kept (with the VM's log) when it fails.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod batches;
pub mod bench;
pub mod project;
pub mod raw;
pub mod smalltalk;

#[allow(unused_imports)] // each test binary uses a different part of the harness
pub use smalltalk::{Runtime, skip_on};

use hotpatch::image::Client;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn testvm_dir() -> PathBuf {
    repo().join("target").join("testvm")
}

/// The image the tests start from: the base image of the runtime under test (a copy of it runs).
pub fn test_image() -> PathBuf {
    Runtime::current().base_image()
}

/// The Squeak test image, built on first use (the build script is idempotent and takes a lock,
/// so test binaries running at the same time do not build it twice).
pub fn squeak_test_image() -> PathBuf {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let script = repo().join("smalltalk-agent/testvm/build-test-image.sh");
            std::fs::create_dir_all(testvm_dir()).expect("create target/testvm");
            let out = Command::new("flock")
                .arg(testvm_dir().join(".build.lock"))
                .arg(&script)
                .arg(testvm_dir())
                .stderr(Stdio::inherit())
                .output()
                .expect("run flock + build-test-image.sh (util-linux's flock is needed)");
            assert!(
                out.status.success(),
                "building the test image failed; see the messages above. On a fresh machine: \
                 apt-get install -y squeak-vm scratch xvfb xdotool"
            );
            let path = String::from_utf8_lossy(&out.stdout)
                .trim()
                .lines()
                .last()
                .unwrap_or("")
                .to_owned();
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "build-test-image.sh printed {path:?}, not an image"
            );
            path
        })
        .clone()
}

/// The agent's file-in for the runtime under test (the shared package and that dialect's
/// platform package), generated from its Tonel sources by hotpatch's own exporter.
pub fn agent_filein() -> String {
    static FILEIN: OnceLock<String> = OnceLock::new();
    FILEIN
        .get_or_init(|| {
            hotpatch::rebuild::agent_filein_for(
                &repo().join("smalltalk-agent/src"),
                Runtime::current().agent_platform(),
            )
            .expect("export the agent's Tonel sources")
        })
        .clone()
}

/// Copies a directory tree (a sample project) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk the tree to copy");
        let rel = entry
            .path()
            .strip_prefix(from)
            .expect("a path inside the tree");
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("create a directory");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy a file");
        }
    }
}

/// A file-in of a Tonel tree (e.g. the sample app), made by hotpatch's exporter.
pub fn filein_of(dir: &Path) -> String {
    let (repo, errors) = hotpatch::tonel::read_repository(dir).expect("read Tonel sources");
    assert!(
        errors.is_empty(),
        "Tonel errors in {}: {errors:?}",
        dir.display()
    );
    hotpatch::tonel::chunk::export(&repo)
}

/// How many VMs one test binary runs at once (`HOTPATCH_TEST_VMS`, default 2): each VM is an
/// interpreter busy compiling at start-up, and more of them than cores only makes every test
/// slower and time-outs likelier.
fn max_vms() -> usize {
    std::env::var("HOTPATCH_TEST_VMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(2)
}

static RUNNING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// A place among the VMs allowed to run at once; given back when dropped.
struct VmSlot;

impl VmSlot {
    fn acquire() -> VmSlot {
        VmSlot::acquire_many(1).pop().expect("one slot")
    }

    /// `k` places at once (a fleet test needs all its VMs together). More than the limit is
    /// granted only when no other VM runs, so such tests run alone rather than deadlock.
    fn acquire_many(k: usize) -> Vec<VmSlot> {
        let (count, freed) = &RUNNING;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        while *n + k > max_vms().max(k) {
            n = freed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += k;
        (0..k).map(|_| VmSlot).collect()
    }
}

impl Drop for VmSlot {
    fn drop(&mut self) {
        let (count, freed) = &RUNNING;
        let mut n = count.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        freed.notify_one();
    }
}

/// A running VM with the agent listening on loopback.
pub struct Vm {
    child: Child,
    _slot: VmSlot,
    pub dir: PathBuf,
    pub port: u16,
    pub token: String,
    pub url: String,
}

static RUN_COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A benchmark's own arguments: `cargo bench` passes `--bench` to a harness-less benchmark,
/// which is not one of ours.
pub fn bench_args() -> impl Iterator<Item = String> {
    std::env::args().skip(1).filter(|a| a != "--bench")
}

/// How long a wait on a process that is still running lasts before it is called hung
/// (`HOTPATCH_TEST_START_SECS`, default 600 s): only a hung process reaches it. On a busy machine
/// a VM start or save can take minutes, so no wait has a shorter fixed clock; each ends as soon
/// as what it waits for happens, or the process it waits on has ended.
pub fn hang_limit() -> Duration {
    let secs = std::env::var("HOTPATCH_TEST_START_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(secs)
}

/// Polls `done` until it answers true (`Ok`). Ends early with `Err` when `running` answers false
/// (the process that should bring it about has ended), or after [`hang_limit`].
pub fn wait_while_running(
    mut done: impl FnMut() -> bool,
    mut running: impl FnMut() -> bool,
) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if done() {
            return Ok(());
        }
        if !running() {
            return Err(format!(
                "its process ended after {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        if started.elapsed() > hang_limit() {
            return Err(format!(
                "still not after {} s while its process kept running",
                hang_limit().as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

impl Vm {
    /// Starts the agent alone.
    pub fn start() -> Vm {
        Vm::start_with(&[])
    }

    /// Starts the agent after filing in `extra` (chunk-format texts, e.g. the sample app).
    pub fn start_with(extra: &[String]) -> Vm {
        let port = free_port();
        let token = random_hex(16);
        let mut script = agent_filein();
        for text in extra {
            script.push('\n');
            script.push_str(text);
        }
        script.push_str(&format!("\nHpAgent startOn: {port} token: '{token}'!\n"));
        Vm::launch(&test_image(), &script, port, token)
    }

    /// Starts `n` agents at once, each alone in its image (a fleet).
    pub fn start_fleet(n: usize) -> Vec<Vm> {
        VmSlot::acquire_many(n)
            .into_iter()
            .map(|slot| {
                let port = free_port();
                let token = random_hex(16);
                let script = format!(
                    "{}\nHpAgent startOn: {port} token: '{token}'!\n",
                    agent_filein()
                );
                Vm::launch_in(slot, &test_image(), &script, port, token)
            })
            .collect()
    }

    /// Runs a copy of `image` filing in `script`, and waits until an agent answers on `port`
    /// with `token` (the script starts it, or the image's start-up list restarts it).
    pub fn launch(image: &Path, script: &str, port: u16, token: String) -> Vm {
        Vm::launch_in(VmSlot::acquire(), image, script, port, token)
    }

    fn launch_in(slot: VmSlot, image: &Path, script: &str, port: u16, token: String) -> Vm {
        let n = RUN_COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            repo()
                .join("target")
                .join("vm-runs")
                .join(format!("{}-{}", std::process::id(), n));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the VM's run directory");
        let runtime = Runtime::current();
        let run_image = runtime.copy_image(image, &dir);
        let log = std::fs::File::create(dir.join("vm.out")).expect("create vm.out");
        let child = runtime
            .command(&dir, &run_image, script)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("start run-image.sh");
        let mut vm = Vm {
            child,
            _slot: slot,
            url: format!("ws://127.0.0.1:{port}/"),
            dir,
            port,
            token,
        };
        vm.wait_until_ready();
        vm
    }

    /// Saves the image (from a background process, so the eval is answered first), waits for
    /// the VM to quit, and starts the saved image with an empty script: only the image's
    /// start-up list can bring the agent back, on the same port with the same token. This VM
    /// gives up its place first (with one VM allowed at a time, `HOTPATCH_TEST_VMS=1`, the
    /// restart would wait for it forever); a copy of the saved image outlives it.
    pub fn save_and_restart(self) -> Vm {
        self.save_and_restart_by(|save| {
            format!(
                "[(Delay forMilliseconds: 300) wait. {save}] \
                 forkAt: Processor userBackgroundPriority. 'saving'"
            )
        })
    }

    /// Like [`Vm::save_and_restart`], with the image saved by the expression `saver` makes of
    /// the statement that saves and quits (a test arranging the state the image is saved in);
    /// the expression must answer at once and leave the saving to a process it forks.
    pub fn save_and_restart_by(mut self, saver: impl Fn(&str) -> String) -> Vm {
        let (save, saved) = Runtime::current().save_and_quit(&self.dir);
        self.eval(&saver(&save));
        assert!(
            self.wait_for_exit(hang_limit()),
            "the VM did not save and quit within {} s\n{}",
            hang_limit().as_secs(),
            self.logs()
        );
        assert!(saved.is_file(), "no saved image\n{}", self.logs());
        let copy = std::env::temp_dir().join(format!(
            "hotpatch-saved-{}-{}.image",
            std::process::id(),
            RUN_COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        std::fs::copy(&saved, &copy).expect("copy the saved image");
        let changes = saved.with_extension("changes");
        if changes.is_file() {
            std::fs::copy(&changes, copy.with_extension("changes")).expect("copy the changes");
        }
        let (port, token) = (self.port, self.token.clone());
        drop(self);
        let again = Vm::launch(&copy, "", port, token);
        let _ = std::fs::remove_file(&copy);
        let _ = std::fs::remove_file(copy.with_extension("changes"));
        again
    }

    /// Waits up to `limit` for the VM to quit on its own; answers whether it did.
    pub fn wait_for_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !self.is_running() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Waits until the agent answers. There is no fixed clock for a VM that is still running:
    /// on a busy machine a start can take minutes, so the wait ends early only when the VM
    /// has quit (its log says why), and otherwise after [`hang_limit`], which only a hung VM
    /// reaches.
    fn wait_until_ready(&mut self) {
        let limit = hang_limit().as_secs();
        let started = Instant::now();
        let rt = runtime();
        loop {
            let attempt = rt.block_on(Client::connect(
                &self.url,
                &self.token,
                Duration::from_secs(5),
            ));
            match attempt {
                Ok(c) => {
                    rt.block_on(c.close());
                    return;
                }
                Err(e) if !self.is_running() => {
                    panic!(
                        "the VM quit before its agent answered ({:.1} s): {e}\n{}",
                        started.elapsed().as_secs_f64(),
                        self.logs()
                    )
                }
                Err(e) if started.elapsed() > Duration::from_secs(limit) => {
                    panic!(
                        "the agent did not come up within {limit} s while its VM kept running: {e}\n{}",
                        self.logs()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// The VM's output and the image's own log, for failure messages.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for name in ["vm.out", "boot.log", "hotpatch.log", "hotpatch-agent.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(name)) {
                let tail: String = text
                    .chars()
                    .rev()
                    .take(6000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                s.push_str(&format!("--- {name} (tail) ---\n{tail}\n"));
            }
        }
        s
    }

    /// The agent's own log: `hotpatch-agent.log` beside the image where the platform writes
    /// one (Squeak, Cuis), the VM's output where it logs to the Transcript (Pharo headless:
    /// stdout).
    pub fn agent_log(&self) -> String {
        let name = match Runtime::current() {
            Runtime::Squeak | Runtime::Cuis => "hotpatch-agent.log",
            Runtime::Pharo => "vm.out",
        };
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// A connected, authenticated client.
    pub async fn client(&self) -> Client {
        Client::connect(&self.url, &self.token, Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("connect to the agent: {e}\n{}", self.logs()))
    }

    /// Starts the "application" the liveness tests watch: a process at the user's priority that
    /// counts `HpTicks` up every `every_ms` milliseconds (read it with [`ticks`]).
    pub fn start_ticker(&self, every_ms: u32) {
        self.eval(&format!(
            "Smalltalk at: #HpTicks put: 0. \
             [[true] whileTrue: [(Delay forMilliseconds: {every_ms}) wait. \
               Smalltalk at: #HpTicks put: (Smalltalk at: #HpTicks) + 1]] \
               forkAt: Processor userSchedulingPriority. 'started'"
        ));
    }

    /// Evaluates `expression` in the image and answers its printString.
    pub fn eval(&self, expression: &str) -> String {
        let rt = runtime();
        rt.block_on(async {
            let mut c = self.client().await;
            let v = c
                .eval(expression)
                .await
                .unwrap_or_else(|e| panic!("eval `{expression}`: {e}\n{}", self.logs()));
            c.close().await;
            v
        })
    }

    /// The elements of the collection `expression` answers, each as its `asString`, for
    /// collections of names or numbers (no spaces): the same on every runtime, where the
    /// printStrings of arrays and symbols differ (`('a')` in Squeak 2.x, `#('a')` in Cuis,
    /// `#(#a)` in Pharo).
    pub fn strings(&self, expression: &str) -> Vec<String> {
        let answer = self.eval(&format!(
            "({expression}) inject: '' into: [:all :each | all , ' ' , each asString]"
        ));
        let text = answer
            .strip_prefix('\'')
            .and_then(|a| a.strip_suffix('\''))
            .unwrap_or_else(|| panic!("`{expression}` answered {answer:?}, not a string"));
        text.split_whitespace().map(str::to_owned).collect()
    }

    /// Gives the image a changes file, as production images have (the Squeak test image has
    /// none; Cuis and Pharo images come with theirs): a method compiled by hand then keeps its
    /// exact source, and `pull` can write it byte for byte.
    pub fn keep_sources(&self) {
        if Runtime::current() == Runtime::Squeak {
            assert_eq!(
                self.eval(
                    "SourceFiles at: 2 put: (FileStream fileNamed: 'hand-edits.changes'). #ok"
                ),
                "#ok"
            );
        }
    }

    /// Compiles `source` into `class` under `protocol` in the image, as someone at a REPL would
    /// (a hand edit, drift to hotpatch).
    pub fn hand_edit(&self, class: &str, source: &str, protocol: &str) {
        let quoted = source.replace('\'', "''");
        let answer = self.eval(&format!(
            "{class} compile: '{quoted}' classified: '{protocol}'. #done"
        ));
        assert_eq!(answer, "#done", "the hand edit did not compile");
    }

    /// The agent's current epoch.
    pub fn epoch(&self) -> u64 {
        runtime().block_on(async {
            let mut c = self.client().await;
            let e = c
                .ping()
                .await
                .unwrap_or_else(|e| panic!("ping: {e}\n{}", self.logs()))
                .epoch;
            c.close().await;
            e
        })
    }

    /// The VM's process id (`run-image.sh` execs the VM).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the VM process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "VM run directory kept for inspection: {}",
                self.dir.display()
            );
            eprintln!("{}", self.logs());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A single-threaded tokio runtime for a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// How often the ticker of [`Vm::start_ticker`] has counted so far.
pub async fn ticks(c: &mut Client) -> u64 {
    let answer = c
        .eval("Smalltalk at: #HpTicks")
        .await
        .expect("read the ticks");
    answer
        .parse()
        .unwrap_or_else(|e| panic!("ticks {answer:?}: {e}"))
}
