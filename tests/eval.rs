//! `hotpatch eval` as health checks and deploy jobs run it, against the real VM: `--json` on
//! success and on failure, `--timeout` beyond the agent's default limit, exit codes.

mod common;

use common::Vm;
use common::project::Project;

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn eval_answers_json_honours_its_time_limit_and_says_why_it_failed() {
    let vm = Vm::start();
    let p = Project::new(&vm, "eval");

    let out = p.hotpatch(&["eval", "--json", "3 + 4"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out), serde_json::json!({ "value": "7" }));

    // A failing expression: exit 4 (the agent refused), one JSON error with its kind.
    let out = p.hotpatch(&["eval", "--json", "1 / 0"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let answer = json(&out);
    assert_eq!(answer["error"]["kind"], "eval_failed", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    // Past the agent's default limit of 5 s when asked for more...
    let out = p.hotpatch(&[
        "eval",
        "--timeout",
        "30",
        "(Delay forSeconds: 6) wait. 6 * 7",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    // ...and stopped at a shorter one, with the limit named.
    let out = p.hotpatch(&["eval", "--timeout", "0.5", "[ true ] whileTrue"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("500 ms"), "{stderr}");
    // The image still answers: the looping process was ended.
    assert_eq!(vm.eval("3 + 4"), "7");

    // A limit that is no number of seconds is refused before anything is sent.
    let out = p.hotpatch(&["eval", "--timeout", "-1", "3"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // Nothing listening: exit 5 (safe to retry), kind `unreachable`.
    let url = format!("ws://127.0.0.1:{}/", common::free_port());
    let out = p.hotpatch(&["eval", "--json", "--url", &url, "3"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(json(&out)["error"]["kind"], "unreachable");
}
