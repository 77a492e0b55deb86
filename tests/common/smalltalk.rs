//! The Smalltalk runtime the end-to-end tests run on, chosen from the environment:
//!
//! | `HOTPATCH_TEST_RUNTIME` | VM | image |
//! | --- | --- | --- |
//! | unset or `squeak` | Debian's `squeak-vm` (`SQUEAK_VM` to pick another) | the CI test image, built on first use |
//! | `cuis` | `HOTPATCH_CUIS_VM` (an OpenSmalltalk Cog Spur VM) | `HOTPATCH_CUIS_IMAGE` (Cuis 5.0 with `Network-Kernel`) |
//! | `pharo` | `HOTPATCH_PHARO_VM` (a Pharo VM) | `HOTPATCH_PHARO_IMAGE` (Pharo 8 or later) |
//!
//! CI sets none of them: it runs the Squeak test image and depends on nothing local. For each
//! runtime the harness builds the VM's command line itself, files in the agent packages that
//! dialect loads (`AgentPlatform`), and works around the runtime's start-up pitfalls in a start
//! script of its own. A test that cannot apply on a runtime says so at its top with
//! [`skip_on`], which prints the reason.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use hotpatch::rebuild::AgentPlatform;

/// A Smalltalk runtime the end-to-end suite can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// The CI test image (Scratch 1.4, Squeak 2.x era) on Debian's interpreter VM.
    Squeak,
    /// Cuis 5 on a Cog Spur VM.
    Cuis,
    /// Pharo 8 or later.
    Pharo,
}

impl Runtime {
    /// The runtime named by `HOTPATCH_TEST_RUNTIME` (default: the Squeak test image).
    pub fn current() -> Runtime {
        static CURRENT: OnceLock<Runtime> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let name = std::env::var("HOTPATCH_TEST_RUNTIME").unwrap_or_default();
            match name.trim().to_ascii_lowercase().as_str() {
                "" | "squeak" => Runtime::Squeak,
                "cuis" => Runtime::Cuis,
                "pharo" => Runtime::Pharo,
                other => panic!(
                    "HOTPATCH_TEST_RUNTIME={other:?} is not a runtime the tests know: \
                     use squeak (the default), cuis or pharo"
                ),
            }
        })
    }

    /// The runtime's name, as `HOTPATCH_TEST_RUNTIME` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Squeak => "squeak",
            Runtime::Cuis => "cuis",
            Runtime::Pharo => "pharo",
        }
    }

    /// The dialect the agent announces in its `hello` (PROTOCOL.md): Cuis is of the Squeak family.
    pub fn dialect(self) -> &'static str {
        match self {
            Runtime::Squeak | Runtime::Cuis => "squeak",
            Runtime::Pharo => "pharo",
        }
    }

    /// An expression for the dictionary of globals: `Smalltalk` itself in Squeak and Cuis,
    /// `Smalltalk globals` in Pharo (whose `Smalltalk` has no `keys`).
    pub fn globals(self) -> &'static str {
        match self {
            Runtime::Squeak | Runtime::Cuis => "Smalltalk",
            Runtime::Pharo => "Smalltalk globals",
        }
    }

    /// Which platform package of the agent this runtime's image loads.
    pub fn agent_platform(self) -> AgentPlatform {
        match self {
            Runtime::Squeak => AgentPlatform::Squeak,
            Runtime::Cuis => AgentPlatform::ModernSqueak,
            Runtime::Pharo => AgentPlatform::Pharo,
        }
    }

    /// The base image every VM of this runtime starts from (a copy of it).
    pub fn base_image(self) -> PathBuf {
        match self {
            Runtime::Squeak => super::squeak_test_image(),
            Runtime::Cuis => {
                required_file("HOTPATCH_CUIS_IMAGE", "a Cuis 5 image with Network-Kernel")
            }
            Runtime::Pharo => required_file("HOTPATCH_PHARO_IMAGE", "a Pharo 8 or later image"),
        }
    }

    fn vm(self) -> PathBuf {
        match self {
            Runtime::Squeak => super::repo().join("smalltalk-agent/testvm/run-image.sh"),
            Runtime::Cuis => required_file("HOTPATCH_CUIS_VM", "a Cog Spur VM for the Cuis image"),
            Runtime::Pharo => required_file("HOTPATCH_PHARO_VM", "a VM for the Pharo image"),
        }
    }

    /// Puts a copy of `image` (with its `.changes`) into `dir` as `test.image`, with links to the
    /// `.sources` files beside it and beside the base image (a saved copy of a test's image sits
    /// alone in the temporary directory); answers the copy's path.
    pub fn copy_image(self, image: &Path, dir: &Path) -> PathBuf {
        let run_image = dir.join("test.image");
        std::fs::copy(image, &run_image)
            .unwrap_or_else(|e| panic!("copy the image {}: {e}", image.display()));
        let changes = image.with_extension("changes");
        if changes.is_file() {
            std::fs::copy(&changes, dir.join("test.changes"))
                .unwrap_or_else(|e| panic!("copy {}: {e}", changes.display()));
        }
        let base = self.base_image();
        let sources = [image.parent(), base.parent()]
            .into_iter()
            .flatten()
            .flat_map(|from| std::fs::read_dir(from).into_iter().flatten().flatten())
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|e| e == "sources"));
        for source in sources {
            if let Some(name) = source.file_name() {
                // the first link of a name wins; a second one of the same name fails harmlessly
                let _ = std::os::unix::fs::symlink(&source, dir.join(name));
            }
        }
        run_image
    }

    /// The command that runs `run_image` (in `dir`) and files in `script` (chunk format) at
    /// start-up; with an empty script the image starts as a user would start it, and only its
    /// own start-up list can bring an agent back.
    pub fn command(self, dir: &Path, run_image: &Path, script: &str) -> Command {
        let filein = dir.join("start.st");
        std::fs::write(&filein, script).expect("write start.st");
        match self {
            Runtime::Squeak => {
                let mut c = Command::new(self.vm());
                c.arg(run_image).arg(&filein);
                c
            }
            Runtime::Cuis => {
                let mut c = Command::new(self.vm());
                c.args(["-vm-display-null", "-vm-sound-null"])
                    .arg(run_image);
                if !script.is_empty() {
                    let boot = dir.join("boot.st");
                    std::fs::write(&boot, cuis_boot_script(dir, &filein)).expect("write boot.st");
                    c.arg("-s").arg(boot);
                }
                c
            }
            Runtime::Pharo => {
                // Started with no arguments, Pharo 8 prints its help and quits: `--no-quit`
                // keeps it running (and its agent serving) after the script.
                let mut c = Command::new(self.vm());
                c.arg(run_image).arg("--no-quit");
                if !script.is_empty() {
                    let boot = dir.join("boot.st");
                    std::fs::write(&boot, pharo_boot_script(dir, &filein)).expect("write boot.st");
                    c.arg("st").arg(boot);
                }
                c
            }
        }
    }

    /// A Smalltalk statement that saves the running image and quits, and the path the image is
    /// saved to (`dir` is the VM's run directory).
    pub fn save_and_quit(self, dir: &Path) -> (String, PathBuf) {
        match self {
            Runtime::Squeak => {
                let saved = dir.join("saved.image");
                let expr = format!(
                    "HotpatchBoot saveAs: {} andQuit: true",
                    st_string(&saved.display().to_string())
                );
                (expr, saved)
            }
            // Cuis 5.0 hangs headless in `snapshot: true andQuit: true`; the four-keyword form
            // works (and keeps the class state, among it the author initials).
            Runtime::Cuis => (
                "Smalltalk snapshot: true andQuit: true embedded: false clearAllClassState: false"
                    .to_owned(),
                dir.join("test.image"),
            ),
            Runtime::Pharo => (
                "Smalltalk snapshot: true andQuit: true".to_owned(),
                dir.join("test.image"),
            ),
        }
    }
}

/// Skips the calling test on `runtime`, printing its name and `reason`; answers whether to
/// skip. Used at the top of a test that cannot apply there:
///
/// ```ignore
/// if skip_on(Runtime::Cuis, "the rebuild loader files in the classic Squeak platform") { return; }
/// ```
pub fn skip_on(runtime: Runtime, reason: &str) -> bool {
    if Runtime::current() != runtime {
        return false;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    // Straight to the process's stderr: the test harness captures `eprintln!` of a passing test.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED on {}: {test}: {reason}",
        runtime.name()
    );
    true
}

fn required_file(var: &str, what: &str) -> PathBuf {
    let runtime = Runtime::current().name();
    let value = std::env::var_os(var).unwrap_or_else(|| {
        panic!("HOTPATCH_TEST_RUNTIME={runtime} needs {var}: the path of {what}")
    });
    let path = PathBuf::from(value);
    assert!(
        path.is_file(),
        "{var}={} is not a file (it names {what})",
        path.display()
    );
    std::fs::canonicalize(&path).unwrap_or(path)
}

/// `text` as a Smalltalk string literal.
fn st_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The `-s` script that files `filein` in on Cuis. Cuis swallows an error in a `-s` script and
/// idles for ever, so every error is logged to `boot.log` and the VM quits with status 1 (the
/// harness then shows the log); a warning (nobody can answer it headless) is logged and resumed.
/// Cuis clears the author initials when an image starts under another path than it was saved
/// under, and compiling without them opens a dialog; its autocompleter's change hooks fail on
/// methods filed in without a stamp: both are dealt with before the file-in.
fn cuis_boot_script(dir: &Path, filein: &Path) -> String {
    let log = st_string(&dir.join("boot.log").display().to_string());
    let filein = st_string(&filein.display().to_string());
    format!(
        "\"hotpatch test harness: file in the start script headless on Cuis\"
| log |
log := [:line | {log} asFileEntry appendContents: line , String newLineString].
[[log value: 'filing in ' , {filein}.
  Utilities authorInitialsPerSe isEmptyOrNil
    ifTrue: [Utilities classPool at: #AuthorInitials put: 'hp'].
  (Smalltalk at: #SmalltalkCompleter ifAbsent: [nil]) ifNotNil: [:completer |
    SystemChangeNotifier uniqueInstance removeActionsWithReceiver: completer].
  ChangeSet fileIn: {filein} asFileEntry.
  log value: 'filed in']
    on: Warning do: [:w | log value: 'warning: ' , w messageText asString. w resume: true]]
    on: Error do: [:e | | context |
      log value: 'error: ' , e class name , ': ' , e messageText asString.
      context := e signalerContext.
      [context notNil] whileTrue: [log value: '    ' , context printString. context := context sender].
      Smalltalk quitPrimitive: 1]
"
    )
}

/// The `st` script that files `filein` in on Pharo: an error is logged to `boot.log` with its
/// stack and the VM quits with status 1 rather than reaching the headless default action (which
/// prints a walkback through tools a minimal image may lack).
fn pharo_boot_script(dir: &Path, filein: &Path) -> String {
    let log = st_string(&dir.join("boot.log").display().to_string());
    let filein = st_string(&filein.display().to_string());
    format!(
        "\"hotpatch test harness: file in the start script headless on Pharo\"
| log |
log := [:line | {log} asFileReference writeStreamDo: [:s | s setToEnd; nextPutAll: line; lf]].
[log value: 'filing in ' , {filein}.
 CodeImporter evaluateFileNamed: {filein}.
 log value: 'filed in']
  on: Error
  do: [:e | | context |
    log value: 'error: ' , e class name , ': ' , e description.
    context := e signalerContext.
    [context notNil] whileTrue: [log value: '    ' , context printString. context := context sender].
    Smalltalk exitFailure]!
"
    )
}
