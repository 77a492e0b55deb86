//! `ssh://` and `wss://` targets end to end, with real components on loopback: Debian's OpenSSH
//! server (`sshd`, its own config, host key and user key made for the test in a temp dir; the
//! client's known_hosts and identity passed through `ssh_options`, so `~/.ssh` is never read or
//! written) and `stunnel4` as the TLS terminator (a throw-away CA and certificates made with the
//! `openssl` CLI), both in front of the real agent VM. Also: that a wrong host key, a failed
//! login and certificates from another CA or for another name are refused with exit 2 and say
//! why, that a closed agent port behind either is "unreachable" (exit 5), and that no ssh
//! process is left behind.
//!
//! Needs `openssh-server openssh-client stunnel4 openssl` (`.ci/run` installs them) and, for
//! sshd, its privilege separation directory `/run/sshd` (created here when missing).

mod common;

use common::{Vm, copy_dir, free_port, repo};
use serde_json::Value;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A temp dir under `target/transport-tests`, removed when the test passes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = repo()
            .join("target")
            .join("transport-tests")
            .join(format!("{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch dir");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("transport test files kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs a set-up tool and insists that it succeeds.
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}); apt-get install openssh-server openssh-client stunnel4 openssl"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until `server` (just started) accepts TCP connections on `port`: while it runs, with no
/// fixed clock (a busy machine may take long to start it); at once when it has quit.
fn wait_for_port(port: u16, what: &str, logs: &Path, server: &mut Server) {
    let listening = || TcpStream::connect(("127.0.0.1", port)).is_ok();
    let running = || matches!(server.0.try_wait(), Ok(None));
    if let Err(why) = common::wait_while_running(listening, running) {
        panic!(
            "{what} did not listen on port {port}: {why}\n{}",
            std::fs::read_to_string(logs).unwrap_or_default()
        );
    }
}

/// A child process (sshd, stunnel) killed when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_logged(program: &str, args: &[&str], log: &Path) -> Server {
    let file = std::fs::File::create(log).expect("create a log file");
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("dup the log"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    Server(child)
}

/// The current user's name (the test logs in to its own sshd as itself).
fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// An OpenSSH server on a free loopback port, with a host key and an authorised user key made
/// for the test, and the client files (known_hosts, identity) that go with it.
struct Sshd {
    _server: Server,
    port: u16,
    dir: PathBuf,
}

impl Sshd {
    fn start(scratch: &Scratch) -> Sshd {
        // sshd refuses to start without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = scratch.path("ssh");
        std::fs::create_dir_all(&dir).expect("create the ssh dir");
        for key in ["host_key", "other_host_key", "user_key", "stranger_key"] {
            let path = dir.join(key);
            run(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "hotpatch-test",
                    "-f",
                    path.to_str().expect("utf-8 path"),
                ],
            );
        }
        std::fs::copy(dir.join("user_key.pub"), dir.join("authorized_keys"))
            .expect("authorise the user key");
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\n\
             AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
             AllowTcpForwarding yes\nPidFile {dir}/sshd.pid\nLogLevel VERBOSE\n",
            dir = dir.display()
        );
        let config_path = dir.join("sshd_config");
        std::fs::write(&config_path, config).expect("write sshd_config");
        let log = dir.join("sshd.log");
        let mut server = spawn_logged(
            "/usr/sbin/sshd",
            &["-D", "-e", "-f", config_path.to_str().expect("utf-8 path")],
            &log,
        );
        wait_for_port(port, "sshd", &log, &mut server);
        let sshd = Sshd {
            _server: server,
            port,
            dir,
        };
        sshd.trust_host_key("host_key");
        sshd
    }

    /// Writes known_hosts with `key`'s public half for this server.
    fn trust_host_key(&self, key: &str) {
        let public =
            std::fs::read_to_string(self.dir.join(format!("{key}.pub"))).expect("read a host key");
        let mut parts = public.split_whitespace();
        let line = format!(
            "[127.0.0.1]:{} {} {}\n",
            self.port,
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("")
        );
        std::fs::write(self.dir.join("known_hosts"), line).expect("write known_hosts");
    }

    /// The ssh:// URL of an agent on `agent_port` behind this server.
    fn url(&self, agent_port: u16) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}/?agent_port={agent_port}",
            user_name(),
            self.port
        )
    }

    /// `ssh_options` for a target: the test's known_hosts and `identity`, nothing from ~/.ssh or
    /// an ssh agent.
    fn options(&self, identity: &str) -> String {
        let d = self.dir.display();
        format!(
            "[\"UserKnownHostsFile={d}/known_hosts\", \"GlobalKnownHostsFile=/dev/null\", \
             \"IdentityFile={d}/{identity}\", \"IdentitiesOnly=yes\", \"IdentityAgent=none\"]"
        )
    }
}

/// stunnel as the TLS terminator: `agent` (certificate for localhost and 127.0.0.1, signed by
/// the test CA) and `misnamed` (signed by the same CA, for another name only), both forwarding
/// to `backend`.
struct Terminator {
    _server: Server,
    port: u16,
    misnamed_port: u16,
    dir: PathBuf,
}

impl Terminator {
    fn start(scratch: &Scratch, backend: u16) -> Terminator {
        let dir = scratch.path("tls");
        std::fs::create_dir_all(&dir).expect("create the tls dir");
        let p = |name: &str| dir.join(name).to_str().expect("utf-8 path").to_owned();
        for ca in ["ca", "other_ca"] {
            run(
                "openssl",
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-days",
                    "2",
                    "-keyout",
                    &p(&format!("{ca}.key")),
                    "-out",
                    &p(&format!("{ca}.pem")),
                    "-subj",
                    &format!("/CN=hotpatch test {ca}"),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            );
        }
        for (name, san) in [
            ("server", "DNS:localhost,IP:127.0.0.1"),
            ("misnamed", "DNS:somewhere-else.example"),
        ] {
            run(
                "openssl",
                &[
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-keyout",
                    &p(&format!("{name}.key")),
                    "-out",
                    &p(&format!("{name}.csr")),
                    "-subj",
                    "/CN=hotpatch test server",
                ],
            );
            std::fs::write(
                dir.join(format!("{name}.ext")),
                format!(
                    "subjectAltName={san}\nbasicConstraints=CA:FALSE\n\
                     keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
                ),
            )
            .expect("write the extensions");
            run(
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &p(&format!("{name}.csr")),
                    "-CA",
                    &p("ca.pem"),
                    "-CAkey",
                    &p("ca.key"),
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-out",
                    &p(&format!("{name}.pem")),
                    "-extfile",
                    &p(&format!("{name}.ext")),
                ],
            );
        }
        let (port, misnamed_port) = (free_port(), free_port());
        let config = format!(
            "foreground = yes\npid = {pid}\ndebug = 5\n\
             [agent]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{backend}\n\
             cert = {cert}\nkey = {key}\n\
             [misnamed]\naccept = 127.0.0.1:{misnamed_port}\nconnect = 127.0.0.1:{backend}\n\
             cert = {mcert}\nkey = {mkey}\n",
            pid = p("stunnel.pid"),
            cert = p("server.pem"),
            key = p("server.key"),
            mcert = p("misnamed.pem"),
            mkey = p("misnamed.key"),
        );
        std::fs::write(dir.join("stunnel.conf"), config).expect("write stunnel.conf");
        let log = dir.join("stunnel.log");
        let mut server = spawn_logged("stunnel4", &[&p("stunnel.conf")], &log);
        wait_for_port(port, "stunnel", &log, &mut server);
        wait_for_port(misnamed_port, "stunnel", &log, &mut server);
        Terminator {
            _server: server,
            port,
            misnamed_port,
            dir,
        }
    }

    fn ca(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.pem"))
    }
}

/// A copy of the sample app whose hotpatch.toml has the given `[targets.*]` sections.
struct Project {
    dir: PathBuf,
    token: String,
}

impl Project {
    fn new(scratch: &Scratch, token: &str, targets: &str) -> Project {
        let dir = scratch.path("project");
        copy_dir(&repo().join("examples/sample-app"), &dir);
        std::fs::write(
            dir.join("hotpatch.toml"),
            format!("source = \"src\"\npackages = [\"Sample-Core\"]\n\n{targets}"),
        )
        .expect("write hotpatch.toml");
        Project {
            dir,
            token: token.to_owned(),
        }
    }

    fn hotpatch(&self, args: &[&str]) -> Output {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_hotpatch"))
            .args(args)
            .current_dir(&self.dir)
            .env("HOTPATCH_TOKEN", &self.token)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run hotpatch");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "hotpatch {args:?} took {:?}",
            started.elapsed()
        );
        out
    }

    /// Runs hotpatch, asserts the exit code; answers stdout and stderr.
    fn expect(&self, args: &[&str], code: i32) -> (String, String) {
        let out = self.hotpatch(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "hotpatch {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        (stdout, stderr)
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.join("src/Sample-Core").join(file);
        let text = std::fs::read_to_string(&path).expect("read source");
        assert!(text.contains(from), "{file} does not contain {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write source");
    }
}

/// ssh processes started for `dir`'s known_hosts that are still running (there must be none
/// once hotpatch has exited).
fn leftover_ssh(dir: &Path) -> Vec<String> {
    let needle = dir.join("known_hosts");
    let needle = needle.to_string_lossy();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_ssh = args
            .first()
            .is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == "ssh"));
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(false);
        if is_ssh && !zombie && args.iter().any(|a| a.contains(needle.as_ref())) {
            found.push(args.join(" "));
        }
    }
    found
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn push_and_status_work_over_ssh_and_over_wss() {
    let scratch = Scratch::new("works");
    let vm = Vm::start();
    let sshd = Sshd::start(&scratch);
    let tls = Terminator::start(&scratch, vm.port);
    let project = Project::new(
        &scratch,
        &vm.token,
        &format!(
            "[targets.over-ssh]\nurl = \"{ssh}\"\nssh_options = {options}\ntimeout_secs = 10\n\n\
             [targets.over-tls]\nurl = \"wss://localhost:{tls_port}/\"\nca_file = \"{ca}\"\n\
             timeout_secs = 10\n",
            ssh = sshd.url(vm.port),
            options = sshd.options("user_key"),
            tls_port = tls.port,
            ca = tls.ca("ca").display(),
        ),
    );

    // status over both: the same image answers.
    let (out, _) = project.expect(&["status", "--json", "--target", "over-ssh"], 0);
    let over_ssh = json(&out);
    let (out, _) = project.expect(&["status", "--json", "--target", "over-tls"], 0);
    let over_tls = json(&out);
    assert_eq!(over_ssh["agent"]["session"], over_tls["agent"]["session"]);
    assert_eq!(over_ssh["url"], sshd.url(vm.port));
    assert!(
        leftover_ssh(&sshd.dir).is_empty(),
        "{:?}",
        leftover_ssh(&sshd.dir)
    );

    // The first push goes through ssh, the next one through TLS; the image has both.
    let (out, _) = project.expect(&["push", "--json", "--target", "over-ssh"], 0);
    assert_eq!(json(&out)["outcome"], "applied", "{out}");
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hello, X!'");
    project.edit("SampleApp.class.st", "'Hello, '", "'Hi over TLS, '");
    let (out, _) = project.expect(&["push", "--json", "--target", "over-tls"], 0);
    assert_eq!(json(&out)["outcome"], "applied", "{out}");
    assert_eq!(vm.eval("SampleApp default greet: 'x'"), "'Hi over TLS, X!'");
    // And over ssh again: nothing left to push, and eval works too.
    let (out, _) = project.expect(&["push", "--json", "--target", "over-ssh"], 0);
    assert_eq!(json(&out)["outcome"], "nothing_to_push", "{out}");
    let (out, _) = project.expect(&["eval", "--target", "over-ssh", "3 + 4"], 0);
    assert_eq!(out.trim(), "7");
    assert!(
        leftover_ssh(&sshd.dir).is_empty(),
        "no ssh process may outlive hotpatch: {:?}",
        leftover_ssh(&sshd.dir)
    );
}

#[test]
fn ssh_refuses_unknown_and_changed_host_keys_and_failed_logins() {
    let scratch = Scratch::new("ssh-refusals");
    let sshd = Sshd::start(&scratch);
    // No agent is needed: every refusal happens before ssh would forward anything.
    let agent_port = free_port();
    let target = |identity: &str| {
        format!(
            "[targets.t]\nurl = \"{}\"\nssh_options = {}\ntimeout_secs = 10\n",
            sshd.url(agent_port),
            sshd.options(identity)
        )
    };
    let project = Project::new(&scratch, "some-token", &target("user_key"));

    // The agent's port is closed behind a good ssh connection: unreachable, safe to retry.
    let (_, err) = project.expect(&["status"], 5);
    eprintln!("closed agent port: {err}");
    assert!(err.contains("nothing accepts connections"), "{err}");

    // A changed host key: refused, nothing sent, exit 2.
    sshd.trust_host_key("other_host_key");
    let (out, err) = project.expect(&["push", "--json"], 2);
    let report = json(&out);
    eprintln!("changed host key: {out}");
    assert_eq!(report["error"]["kind"], "transport", "{out}");
    assert_eq!(report["error"]["problem"], "host_key", "{out}");
    assert!(
        report["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("has changed")),
        "{out}\n{err}"
    );

    // An unknown host key (empty known_hosts): refused, never accepted by itself.
    std::fs::write(sshd.dir.join("known_hosts"), "").expect("empty known_hosts");
    let (_, err) = project.expect(&["status"], 2);
    eprintln!("unknown host key: {err}");
    assert!(err.contains("not in known_hosts"), "{err}");

    // A key the server does not accept: a failed login, exit 2, no password prompt.
    sshd.trust_host_key("host_key");
    std::fs::write(
        project.dir.join("hotpatch.toml"),
        format!(
            "source = \"src\"\npackages = [\"Sample-Core\"]\n\n{}",
            target("stranger_key")
        ),
    )
    .expect("rewrite hotpatch.toml");
    let (_, err) = project.expect(&["status"], 2);
    eprintln!("failed login: {err}");
    assert!(err.contains("could not log in"), "{err}");
    assert!(
        leftover_ssh(&sshd.dir).is_empty(),
        "{:?}",
        leftover_ssh(&sshd.dir)
    );
}

#[test]
fn tls_refuses_certificates_of_other_cas_and_other_names() {
    let scratch = Scratch::new("tls-refusals");
    // Nothing behind the terminator: the certificate is checked before it forwards anything.
    let tls = Terminator::start(&scratch, free_port());
    let project = Project::new(&scratch, "some-token", "");
    let status = |url: String, ca: Option<PathBuf>, code: i32| {
        let ca = ca.map_or(String::new(), |ca| {
            format!("ca_file = \"{}\"\n", ca.display())
        });
        std::fs::write(
            project.dir.join("hotpatch.toml"),
            format!("[targets.t]\nurl = \"{url}\"\n{ca}timeout_secs = 10\n"),
        )
        .expect("write hotpatch.toml");
        let err = project.expect(&["status"], code).1;
        eprintln!("{url}: {err}");
        err
    };
    let url = format!("wss://localhost:{}/", tls.port);

    // Verification is on by default: the test CA is not one of the system's.
    let err = status(url.clone(), None, 2);
    assert!(err.contains("not signed by the system's CA"), "{err}");
    // Another CA in ca_file: refused.
    let err = status(url.clone(), Some(tls.ca("other_ca")), 2);
    assert!(err.contains("not signed by the CA in ca_file"), "{err}");
    // The right CA, but a certificate for another name.
    let misnamed = format!("wss://localhost:{}/", tls.misnamed_port);
    let err = status(misnamed, Some(tls.ca("ca")), 2);
    assert!(err.contains("not valid for the name localhost"), "{err}");
    // The right CA and name, and nothing behind the terminator: unreachable, safe to retry.
    let err = status(url, Some(tls.ca("ca")), 5);
    assert!(err.contains("cannot connect"), "{err}");
}

#[test]
fn urls_and_limits_that_can_never_work_exit_2_before_anything_is_sent() {
    let scratch = Scratch::new("config");
    let project = Project::new(&scratch, "some-token", "");
    let write = |target: &str| {
        std::fs::write(
            project.dir.join("hotpatch.toml"),
            format!("source = \"src\"\npackages = [\"Sample-Core\"]\n\n[targets.t]\n{target}"),
        )
        .expect("write hotpatch.toml");
    };
    for url in [
        "http://127.0.0.1:7071/",
        "wss//127.0.0.1:7071/",
        "ws://:7071/",
        "ws:/127.0.0.1:7071/",
        "ssh://127.0.0.1/?agent_prot=7071",
    ] {
        write(&format!("url = \"{url}\"\n"));
        for command in [&["status"][..], &["push", "--rebuild"], &["eval", "1"]] {
            let (_, err) = project.expect(command, 2);
            assert!(
                err.contains("targets.t.url") && err.contains("ssh://[USER@]HOST"),
                "{url} {command:?}: {err}"
            );
        }
    }
    // The same URL given on the command line.
    write("url = \"ws://127.0.0.1:7071/\"\n");
    let (_, err) = project.expect(&["status", "--url", "htp://127.0.0.1:7071/"], 2);
    assert!(err.contains("--url"), "{err}");
    // Limits out of range, including the one that used to panic (exit 101).
    for setting in [
        "timeout_secs = 1e300",
        "timeout_secs = -1",
        "timeout_secs = nan",
        "apply_timeout_secs = 0",
    ] {
        write(&format!("url = \"ws://127.0.0.1:7071/\"\n{setting}\n"));
        let (_, err) = project.expect(&["status"], 2);
        let key = setting.split(' ').next().unwrap_or("");
        assert!(
            err.contains(&format!("targets.t.{key}")) && err.contains("from 0.1 to 86400"),
            "{setting}: {err}"
        );
    }
    let (_, err) = project.expect(&["status", "--set", "targets.t.timeout_secs=1e300"], 2);
    assert!(err.contains("1e300"), "{err}");
}
