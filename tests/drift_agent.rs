//! Drift, adoption and the audit log in a real image (Squeak VM + the Scratch-derived test
//! image), driven over the wire protocol directly (PROTOCOL.md: snapshot `drift`, apply `drift`
//! and `client`, rollback `client`, `adopt`, `log`). The image is changed behind the agent's back
//! with `eval` (as a developer's hand fix would), and every outcome is checked by asking the
//! image again.

mod common;

use common::{Vm, agent_filein, free_port, raw, test_image};
use serde_json::{Value, json};
use std::net::TcpStream;
use std::time::Duration;

const PACKAGE: &str = "DriftTest-Core";

/// A protocol connection on a raw socket, for the commands and members the typed client does
/// not have.
struct Wire {
    socket: TcpStream,
    next_id: u64,
    hello: Value,
}

impl Wire {
    fn open(vm: &Vm) -> Wire {
        let mut socket = raw::connect(vm.port);
        socket
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("set a read timeout");
        let head = raw::handshake(&mut socket);
        assert!(head.starts_with("HTTP/1.1 101"), "handshake: {head}");
        let mut wire = Wire {
            socket,
            next_id: 1,
            hello: Value::Null,
        };
        wire.hello = wire
            .ok(json!({"cmd": "hello", "token": vm.token, "protocol": 1, "client": "drift-test"}));
        wire
    }

    /// Sends `request` (an `id` is added) and answers the whole answer.
    fn call(&mut self, mut request: Value) -> Value {
        request["id"] = json!(self.next_id);
        self.next_id += 1;
        raw::text(&mut self.socket, &request.to_string());
        let answer = raw::answer(&mut self.socket);
        assert_eq!(
            answer["id"], request["id"],
            "answer to another request: {answer}"
        );
        answer
    }

    /// Sends `request` and answers its `result`, failing the test on an error answer.
    fn ok(&mut self, request: Value) -> Value {
        let answer = self.call(request.clone());
        assert_eq!(answer["ok"], json!(true), "{request} failed: {answer}");
        answer["result"].clone()
    }

    /// Sends `request` and answers its `error`, failing the test if it succeeded.
    fn error(&mut self, request: Value) -> Value {
        let answer = self.call(request.clone());
        assert_eq!(
            answer["ok"],
            json!(false),
            "{request} should fail: {answer}"
        );
        answer["error"].clone()
    }

    fn epoch(&mut self) -> u64 {
        self.ok(json!({"cmd": "ping"}))["epoch"]
            .as_u64()
            .expect("ping answers an epoch")
    }

    fn eval(&mut self, expression: &str) -> String {
        self.ok(json!({"cmd": "eval", "expression": expression}))["value"]
            .as_str()
            .expect("eval answers a string")
            .to_owned()
    }

    /// `apply` of `ops` at the current epoch, with the extra request members of `extra`.
    fn apply(&mut self, id: &str, ops: Value, extra: Value) -> Value {
        let epoch = self.epoch();
        let mut request = json!({"cmd": "apply", "batch": {"id": id, "epoch": epoch, "ops": ops}});
        if let Value::Object(members) = extra {
            for (k, v) in members {
                request[k] = v;
            }
        }
        self.call(request)
    }

    /// The `drift` member of the test package in a full snapshot asking for drift.
    fn drift(&mut self) -> Value {
        let snap = self.ok(json!({"cmd": "snapshot", "packages": [PACKAGE], "drift": true}));
        snap["packages"][0]["drift"].clone()
    }

    fn log(&mut self, limit: u64) -> Value {
        self.ok(json!({"cmd": "log", "limit": limit}))
    }
}

fn thing(inst_vars: &[&str]) -> Value {
    json!({"op": "define_class", "class": {
        "name": "DriftThing", "superclass": "Object", "inst_vars": inst_vars,
        "package": PACKAGE, "comment": "A thing whose drift is watched."
    }})
}

fn put(side: &str, source: &str) -> Value {
    json!({"op": "put_method", "class_name": "DriftThing", "side": side,
           "protocol": "accessing", "source": source})
}

const GREETING: &str = "greeting\n\t^ 'Hello'";
const HAND_FIX: &str = "greeting ^ 'Hand fixed'";
const OLD: &str = "old\n\t^ 1";

/// The drift entry for `selector`, if listed.
fn method_drift<'a>(drift: &'a Value, selector: &str) -> Option<&'a Value> {
    drift["methods"]
        .as_array()
        .expect("drift.methods is a list")
        .iter()
        .find(|m| m["selector"] == selector)
}

fn class_drift<'a>(drift: &'a Value, name: &str) -> Option<&'a Value> {
    drift["classes"]
        .as_array()
        .expect("drift.classes is a list")
        .iter()
        .find(|c| c["name"] == name)
}

fn is_clean(drift: &Value) -> bool {
    drift["methods"] == json!([]) && drift["classes"] == json!([])
}

/// Starts the agent through its configuration text, with `audit_entries` set.
fn start_with_audit_limit(limit: u32) -> Vm {
    let port = free_port();
    let token = format!("drift-{port}-{}", std::process::id());
    let script = format!(
        "{}\nHpAgent startFromConfigText: 'port={port}\ntoken={token}\naudit_entries={limit}'!\n",
        agent_filein()
    );
    Vm::launch(&test_image(), &script, port, token)
}

#[test]
fn hand_fixes_show_as_drift_are_refused_overwritten_rolled_back_adopted_and_logged() {
    let vm = start_with_audit_limit(4);
    let mut w = Wire::open(&vm);
    assert_eq!(
        w.hello["features"],
        json!([
            "drift",
            "log",
            "adopt",
            "overrides",
            "hooks",
            "check",
            "parts"
        ])
    );

    // hotpatch installs a small package.
    let answer = w.apply(
        "b-install",
        json!([
            thing(&["a"]),
            put("instance", GREETING),
            put("instance", OLD),
            put("class", "make\n\t^ self new")
        ]),
        json!({}),
    );
    assert_eq!(answer["ok"], json!(true), "{answer}");
    // The first full drift snapshot adopts the package; nothing has drifted.
    let drift = w.drift();
    assert_eq!(drift["adopted"], json!(true), "{drift}");
    assert!(is_clean(&drift), "{drift}");

    // Hand fixes behind hotpatch's back.
    let fixed = format!(
        "DriftThing compile: '{}' classified: 'accessing'",
        HAND_FIX.replace('\'', "''")
    );
    w.eval(&fixed);
    w.eval("DriftThing compile: 'extra ^ 42' classified: 'accessing'");
    w.eval("DriftThing removeSelector: #old");
    w.eval(&format!(
        "Object subclass: #DriftThing instanceVariableNames: 'a b' classVariableNames: '' \
         poolDictionaries: '' category: '{PACKAGE}'"
    ));

    let drift = w.drift();
    let greeting = method_drift(&drift, "greeting").unwrap_or_else(|| panic!("{drift}"));
    assert_eq!(greeting["change"], "changed");
    assert_eq!(greeting["class_name"], "DriftThing");
    assert_eq!(greeting["side"], "instance");
    assert_eq!(greeting["installed"], GREETING);
    assert!(greeting.get("stamp").is_some(), "stamp member: {greeting}");
    let extra = method_drift(&drift, "extra").unwrap_or_else(|| panic!("{drift}"));
    assert_eq!(extra["change"], "added");
    assert_eq!(extra["installed"], Value::Null);
    let old = method_drift(&drift, "old").unwrap_or_else(|| panic!("{drift}"));
    assert_eq!(old["change"], "removed");
    assert_eq!(old["installed"], OLD);
    assert!(method_drift(&drift, "make").is_none(), "untouched: {drift}");
    assert_eq!(
        drift["methods"].as_array().map(Vec::len),
        Some(3),
        "{drift}"
    );
    let class = class_drift(&drift, "DriftThing").unwrap_or_else(|| panic!("{drift}"));
    assert_eq!(class["change"], "changed");
    assert_eq!(class["installed"]["inst_vars"], json!(["a"]));
    assert_eq!(class["installed"]["package"], PACKAGE);
    assert_eq!(
        class["installed"]["comment"],
        "A thing whose drift is watched."
    );

    // A batch touching drifted definitions is refused with the list, and changes nothing.
    let epoch = w.epoch();
    let overwrite_ops = json!([
        thing(&["a"]),
        put("instance", "greeting\n\t^ 'Hello again'"),
        put("instance", OLD)
    ]);
    let refused = w.apply(
        "b-refused",
        overwrite_ops.clone(),
        json!({"drift": "refuse"}),
    );
    assert_eq!(refused["ok"], json!(false), "{refused}");
    let error = &refused["error"];
    assert_eq!(error["kind"], "drift", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("3 definitions changed in the image"),
        "{error}"
    );
    let listed = error["drift"].as_array().expect("drift list");
    assert!(
        listed.contains(&json!({"name": "DriftThing", "change": "changed"})),
        "{error}"
    );
    assert!(
        listed.contains(&json!({"class_name": "DriftThing", "side": "instance",
                                    "selector": "greeting", "change": "changed"})),
        "{error}"
    );
    assert!(
        listed.contains(&json!({"class_name": "DriftThing", "side": "instance",
                                    "selector": "old", "change": "removed"})),
        "{error}"
    );
    assert_eq!(w.epoch(), epoch, "nothing changed");
    assert_eq!(w.eval("DriftThing new greeting"), "'Hand fixed'");
    assert_eq!(w.eval("DriftThing instVarNames size"), "2");
    assert_eq!(
        w.error(
            json!({"cmd": "apply", "batch": {"id": "b-bad", "epoch": epoch, "ops": []},
                              "drift": "maybe"})
        )["kind"],
        "bad_request"
    );

    // With overwrite the batch goes ahead; the log keeps who did it and what it overwrote.
    let client = json!({"user": "ann", "host": "ann-laptop", "commit": "3f2c1e0", "dirty": false,
                        "tool": "hotpatch test"});
    let applied = w.apply(
        "b-overwrite",
        overwrite_ops,
        json!({"drift": "overwrite", "client": client}),
    );
    assert_eq!(applied["ok"], json!(true), "{applied}");
    assert_eq!(w.eval("DriftThing new greeting"), "'Hello again'");
    assert_eq!(w.eval("DriftThing instVarNames size"), "1");
    let drift = w.drift();
    assert!(method_drift(&drift, "greeting").is_none(), "{drift}");
    assert!(method_drift(&drift, "old").is_none(), "{drift}");
    assert!(class_drift(&drift, "DriftThing").is_none(), "{drift}");
    assert_eq!(
        method_drift(&drift, "extra").map(|m| &m["change"]),
        Some(&json!("added"))
    );

    let log = w.log(1);
    let entry = &log["entries"][0];
    assert_eq!(entry["event"], "apply", "{log}");
    assert_eq!(entry["batch"], "b-overwrite");
    assert_eq!(entry["client"], client);
    assert_eq!(
        entry["epoch_after"].as_u64(),
        entry["epoch_before"].as_u64().map(|e| e + 1)
    );
    assert_eq!(entry["counts"]["put_method"], 2);
    assert_eq!(entry["counts"]["define_class"], 1);
    assert_eq!(entry["touched_total"], 3);
    assert!(
        entry["touched"]
            .as_array()
            .expect("touched")
            .contains(&json!("DriftThing>>greeting")),
        "{entry}"
    );
    let time = entry["time"].as_str().expect("time");
    assert_eq!(time.len(), 19, "ISO 8601 local time: {time}");
    assert_eq!(&time[10..11], "T");
    let overwritten = entry["overwritten"].as_array().expect("overwritten");
    let hand = overwritten
        .iter()
        .find(|o| o["selector"] == "greeting")
        .unwrap_or_else(|| panic!("{entry}"));
    assert!(
        hand["source"].as_str().unwrap_or("").contains("Hand fixed"),
        "{hand}"
    );
    let class = overwritten
        .iter()
        .find(|o| o["name"] == "DriftThing")
        .unwrap_or_else(|| panic!("{entry}"));
    assert_eq!(class["definition"]["inst_vars"], json!(["a", "b"]));

    // Rollback brings the hand fix back, and its record: it is drift again.
    let bob = json!({"user": "bob", "host": null});
    let rolled = w.ok(json!({"cmd": "rollback", "client": bob}));
    assert_eq!(rolled["batch"], "b-overwrite");
    assert_eq!(w.eval("DriftThing new greeting"), "'Hand fixed'");
    assert_eq!(w.eval("DriftThing instVarNames size"), "2");
    let drift = w.drift();
    let greeting = method_drift(&drift, "greeting").unwrap_or_else(|| panic!("{drift}"));
    assert_eq!(greeting["change"], "changed");
    assert_eq!(greeting["installed"], GREETING);
    assert_eq!(
        method_drift(&drift, "old").map(|m| &m["change"]),
        Some(&json!("removed"))
    );
    assert_eq!(
        class_drift(&drift, "DriftThing").map(|c| &c["change"]),
        Some(&json!("changed"))
    );
    let entry = &w.log(1)["entries"][0];
    assert_eq!(entry["event"], "rollback", "{entry}");
    assert_eq!(entry["batch"], "b-overwrite");
    assert_eq!(entry["client"]["user"], "bob");
    assert_eq!(entry["client"]["host"], Value::Null);
    assert_eq!(entry["counts"]["put_method"], 2);

    // Adopting one method with its exact text: no longer drift, and snapshot answers that text.
    let adopted = w.ok(
        json!({"cmd": "adopt", "methods": [{"class_name": "DriftThing",
        "side": "instance", "selector": "greeting", "source": HAND_FIX}]}),
    );
    assert_eq!(adopted["adopted"], 1, "{adopted}");
    assert_eq!(adopted["epoch"].as_u64(), Some(w.epoch()));
    let snap = w.ok(json!({"cmd": "snapshot", "packages": [PACKAGE], "drift": true}));
    let greeting = snap["packages"][0]["classes"][0]["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .find(|m| m["selector"] == "greeting")
        .cloned()
        .unwrap_or_else(|| panic!("{snap}"));
    assert_eq!(greeting["source"], HAND_FIX);
    assert_eq!(greeting["source_exact"], json!(true));
    let drift = &snap["packages"][0]["drift"];
    assert!(method_drift(drift, "greeting").is_none(), "{drift}");
    assert!(method_drift(drift, "old").is_some(), "{drift}");

    // Adopting the package clears the rest.
    w.ok(json!({"cmd": "adopt", "packages": [PACKAGE], "client": {"user": "carol"}}));
    let drift = w.drift();
    assert!(is_clean(&drift), "{drift}");

    // Five entries were appended; the log keeps four (audit_entries=4), newest first.
    let log = w.log(0);
    assert_eq!(log["limit"], 4, "{log}");
    assert_eq!(log["kept"], 4, "{log}");
    assert_eq!(log["dropped"], 1, "{log}");
    let events: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(events, ["adopt", "adopt", "rollback", "apply"], "{log}");
    let seqs: Vec<u64> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [5, 4, 3, 2], "{log}");
    assert_eq!(w.log(2)["entries"].as_array().map(Vec::len), Some(2));

    // The log, the records and the limit survive an image save and restart.
    w.eval("DriftThing compile: 'later ^ 7' classified: 'accessing'");
    drop(w);
    let again = vm.save_and_restart();
    let mut w = Wire::open(&again);
    let log = w.log(0);
    assert_eq!(log["kept"], 4, "{log}");
    assert_eq!(log["limit"], 4, "{log}");
    assert_eq!(log["entries"][0]["client"]["user"], "carol", "{log}");
    assert_eq!(log["entries"][3]["client"]["user"], "ann", "{log}");
    // A change made before the save is still seen against the records kept in the image.
    let drift = w.drift();
    assert_eq!(
        method_drift(&drift, "later").map(|m| &m["change"]),
        Some(&json!("added")),
        "{drift}"
    );
    assert_eq!(
        drift["methods"].as_array().map(Vec::len),
        Some(1),
        "{drift}"
    );
    // And the next entry continues the sequence.
    w.ok(json!({"cmd": "adopt", "classes": ["DriftThing"]}));
    assert_eq!(w.log(1)["entries"][0]["seq"], 6);
}

#[test]
fn a_store_saved_by_an_older_agent_still_serves_and_sees_drift() {
    let vm = Vm::start();
    let mut w = Wire::open(&vm);
    let answer = w.apply(
        "b-old",
        json!([thing(&[]), put("instance", GREETING), put("instance", OLD)]),
        json!({}),
    );
    assert_eq!(answer["ok"], json!(true), "{answer}");
    // The shape an older agent saved: only entries and comments, no index, no class records,
    // no adopted packages, and entries without a protocol.
    w.eval(
        "| s e | s := HpSourceStore default. e := s instVarAt: 1. \
         e keysAndValuesDo: [:k :v | e at: k put: (Array with: (v at: 1) with: (v at: 2))]. \
         s instVarAt: 3 put: nil; instVarAt: 4 put: nil; instVarAt: 5 put: nil. 'old shape'",
    );
    let snap = w.ok(json!({"cmd": "snapshot", "packages": [PACKAGE]}));
    let methods = &snap["packages"][0]["classes"][0]["methods"];
    assert!(
        methods
            .as_array()
            .expect("methods")
            .iter()
            .any(|m| m["source"] == GREETING),
        "{snap}"
    );

    w.eval("DriftThing removeSelector: #old");
    let drift = w.drift();
    assert_eq!(
        method_drift(&drift, "old").map(|m| &m["change"]),
        Some(&json!("removed")),
        "{drift}"
    );
    assert_eq!(
        method_drift(&drift, "old").map(|m| &m["installed"]),
        Some(&json!(OLD))
    );
    assert!(method_drift(&drift, "greeting").is_none(), "{drift}");
    // The class had no record: the full snapshot adopted it as it is now.
    assert!(class_drift(&drift, "DriftThing").is_none(), "{drift}");
    assert_eq!(drift["adopted"], json!(true));
    w.eval("DriftThing compile: 'greeting ^ 2' classified: 'accessing'");
    let drift = w.drift();
    assert_eq!(
        method_drift(&drift, "greeting").map(|m| &m["change"]),
        Some(&json!("changed"))
    );
}
