//! The check's documented exceptions, each with the sentence a reader needs: sends that may be
//! missing in a Pharo version because the agent only makes them behind a capability test,
//! globals the bootstrap creates outside `src/`, and non-`Error` signals on the compile path that
//! are safe to leave uncaught. One table each, as `plan/rules.rs` keeps its policy.

/// A send the agent makes only where the image answers `respondsTo:` for it (or for the
/// alternative it replaces). Accepted when missing in a Pharo version, but only if every site of
/// the send is inside a `respondsTo:` branch.
pub struct GuardedSend {
    /// The selector.
    pub selector: &'static str,
    /// Why it is safe where Pharo lacks it.
    pub reason: &'static str,
}

/// The guarded sends (see [`GuardedSend`]).
pub const GUARDED_SENDS: &[GuardedSend] = &[
    GuardedSend {
        selector: "compileOrFail",
        reason: "HpPharoPlatform>>check:in: uses it only where OpalCompiler has no #compile (later development versions)",
    },
    GuardedSend {
        selector: "permitUndeclared:",
        reason: "sent together with #compileOrFail, in the branch for compilers without #compile",
    },
    GuardedSend {
        selector: "notice",
        reason: "Pharo 12-13 CodeError API: HpPharoPlatform>>isUndeclaredNotice: asks respondsTo: #notice first (9-11 signal no CodeError)",
    },
    GuardedSend {
        selector: "isUndeclaredNotice",
        reason: "Pharo 12-13 notice API, asked with respondsTo: #isUndeclaredNotice on the notice",
    },
    GuardedSend {
        selector: "protocolNames",
        reason: "ClassDescription>>protocolNames is Pharo 12-13; 9-11 answer the class's ClassOrganization>>categories instead",
    },
    GuardedSend {
        selector: "waitTimeoutMilliseconds:",
        reason: "Semaphore>>waitTimeoutMilliseconds: is Pharo 12-13; HpPharoPlatform>>wait:milliseconds: uses #waitTimeoutMSecs: where it is missing (9-11)",
    },
    GuardedSend {
        selector: "waitTimeoutMSecs:",
        reason: "the Pharo 9-11 name of Semaphore>>waitTimeoutMilliseconds:, sent only where that is missing",
    },
    GuardedSend {
        selector: "logMethodSource:forMethod:inCategory:withStamp:",
        reason: "Pharo 9-11 log a method's source through the class; HpPharoPlatform>>installCompiled: asks respondsTo: for it and logs as 12-13's OpalCompiler>>install does where it is missing",
    },
    GuardedSend {
        selector: "acceptsLoggingOfCompilation",
        reason: "Pharo 9-11 log a compiled method only where the class accepts it; asked in the branch for #logMethodSource:forMethod:inCategory:withStamp: (12-13 always log)",
    },
    GuardedSend {
        selector: "classComment",
        reason: "Pharo 8-11 keep a class's stored comment in its ClassOrganization (#classComment); HpPharoPlatform>>commentOf: asks it there, and 12-13's Class>>comment (the stored comment, '' for none) where the organization lacks it",
    },
    GuardedSend {
        selector: "printProtocolChunk:on:withStamp:priorMethod:",
        reason: "the changes-file preamble of Pharo 12-13's OpalCompiler>>install, used where #logMethodSource:forMethod:inCategory:withStamp: (9-11) is missing",
    },
    GuardedSend {
        selector: "noteCompilationOfMethod:meta:",
        reason: "Pharo 9-11 announce a compiled method with it; 12-13 with #noteCompilationOf:meta:, used where it is missing",
    },
    GuardedSend {
        selector: "isUndeclaredVariable",
        reason: "Pharo 9-13 ask a binding #isUndeclaredVariable; Pharo 8's UndeclaredVariable lacks it, and HpPharoPlatform>>isUndeclaredVariable: asks whether the literal is an UndeclaredVariable there",
    },
    GuardedSend {
        selector: "packageTag",
        reason: "ClassDescription>>packageTag is Pharo 12-13; 9-11 answer the class's system category",
    },
];

/// A global that exists in every Pharo image but is created by the bootstrap (Pharo's
/// `bootstrap/` folder, outside `src/`), so no source in `src/` defines it in some versions.
pub struct BootstrapGlobal {
    /// The global's name.
    pub name: &'static str,
    /// The class of the object it holds (sends to it are checked against that class).
    pub class: &'static str,
    /// Where it comes from.
    pub reason: &'static str,
}

/// The bootstrap globals (see [`BootstrapGlobal`]). A global found in `src/` as
/// `Smalltalk globals at: #Name put: …` needs no entry.
pub const BOOTSTRAP_GLOBALS: &[BootstrapGlobal] = &[
    BootstrapGlobal {
        name: "Smalltalk",
        class: "SmalltalkImage",
        reason: "the system's SmalltalkImage, installed by the bootstrap",
    },
    BootstrapGlobal {
        name: "Processor",
        class: "ProcessorScheduler",
        reason: "the VM's process scheduler, installed by the bootstrap",
    },
    BootstrapGlobal {
        name: "Undeclared",
        class: "",
        reason: "the registry of undeclared variables, created by the bootstrap",
    },
    BootstrapGlobal {
        name: "Transcript",
        class: "ThreadSafeTranscript",
        reason: "installed at start-up (ThreadSafeTranscript, or a stdout transcript headless)",
    },
];

/// A non-`Error` exception Pharo's compiler may signal that the agent does not need to catch.
pub struct QuietSignal {
    /// The exception class.
    pub class: &'static str,
    /// Why leaving it to its default action is safe.
    pub reason: &'static str,
}

/// The quiet compile-path signals (see [`QuietSignal`]).
pub const QUIET_SIGNALS: &[QuietSignal] = &[
    QuietSignal {
        class: "OCUndeclaredVariableWarning",
        reason: "not interactive (no requestor), its default action logs a NewUndeclaredWarning and resumes, declaring the name (9-11) or leaving it undeclared (12-13); the agent reports undeclared names from the compiled method",
    },
    QuietSignal {
        class: "NewUndeclaredWarning",
        reason: "a SystemNotification: logged and resumed",
    },
    QuietSignal {
        class: "SystemNotification",
        reason: "its default action logs it (headless: to stdout) and resumes",
    },
    QuietSignal {
        class: "OCShadowVariableWarning",
        reason: "not interactive, its default action shows a SystemNotification and resumes",
    },
    QuietSignal {
        class: "ReparseAfterSourceEditing",
        reason: "signalled only after a SyntaxErrorNotification or the undeclared-variable menu supplied corrected source; the agent never resumes one, and no menu opens without a requestor",
    },
    QuietSignal {
        class: "Abort",
        reason: "signalled only from the interactive undeclared-variable menu (define a class or trait), which needs a requestor",
    },
    QuietSignal {
        class: "OCReadOnlyVMWarning",
        reason: "Pharo 8: signalled only when a setting turns read-only literals on for a VM without a write barrier (CompilationContext class>>optionReadOnlyLiterals:), never while compiling",
    },
    QuietSignal {
        class: "Halt",
        reason: "not signalled: the AST's isHaltNode compares a receiver with the Halt class",
    },
];
