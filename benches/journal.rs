//! Benchmark of the agent's memory under many applies: 10,000 batches of one changed method,
//! applied one after another (pipelined on one connection) into the real VM and agent (the
//! test image), with the image's memory printed every 1,000: the object memory in use after a
//! full garbage collection (`Smalltalk vmParameterAt: 2` after `garbageCollect`), the VM's
//! resident size, and how many batches the journal and the record of batch ids hold. Prints
//! figures; asserts nothing about time.
//!
//!     cargo bench --bench journal -- [--applies N] [--journal N --batch-ids N]
//!
//! `--journal 1000000 --batch-ids 1000000` keeps everything, as the agent did before issue 17.

#[path = "../tests/common/mod.rs"]
mod common;

use common::raw;
use serde_json::{Value, json};
use std::io::Write;
use std::time::{Duration, Instant};

fn main() {
    let mut applies = 10_000usize;
    let mut journal = None;
    let mut batch_ids = None;
    let mut args = common::bench_args();
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse::<usize>().ok());
        match (a.as_str(), value) {
            ("--applies", Some(n)) if n > 0 => applies = n,
            ("--journal", Some(n)) if n > 0 => journal = Some(n),
            ("--batch-ids", Some(n)) if n > 0 => batch_ids = Some(n),
            _ => {
                eprintln!(
                    "usage: cargo bench --bench journal -- [--applies N] [--journal N] [--batch-ids N]"
                );
                std::process::exit(2);
            }
        }
    }
    let port = common::free_port();
    let token = "bench-journal".to_owned();
    let mut config = format!("port={port}\ntoken={token}");
    if let Some(n) = journal {
        config.push_str(&format!("\njournal_entries={n}"));
    }
    if let Some(n) = batch_ids {
        config.push_str(&format!("\nbatch_ids={n}"));
    }
    let script = format!(
        "{}\nHpAgent startFromConfigText: '{config}'!\n",
        common::agent_filein()
    );
    let vm = common::Vm::launch(&common::test_image(), &script, port, token);
    let mut s = raw::authenticated(vm.port, &vm.token);
    s.set_read_timeout(Some(Duration::from_secs(3600)))
        .expect("set a read timeout");
    let mut next_id = 10u64;
    let mut call = |s: &mut std::net::TcpStream, request: Value| -> Value {
        let mut request = request;
        request["id"] = json!(next_id);
        next_id += 1;
        raw::text(s, &request.to_string());
        let answer = raw::answer(s);
        if answer["ok"] != json!(true) {
            eprintln!(
                "bench-journal: {} failed: {}",
                request["cmd"], answer["error"]
            );
            std::process::exit(1);
        }
        answer["result"].clone()
    };
    let apply = |id: String, epoch: u64, ops: Value| json!({"id": 0, "cmd": "apply", "batch": {"id": id, "epoch": epoch, "ops": ops}});
    let epoch = call(&mut s, json!({"cmd": "ping"}))["epoch"]
        .as_u64()
        .unwrap_or(0);
    call(
        &mut s,
        apply(
            "b-define".into(),
            epoch,
            json!([{"op": "define_class", "class": {"name": "BenchKept", "superclass": "Object", "package": "Bench-Journal"}}]),
        ),
    );
    let first = epoch + 1;
    println!(
        "journal_entries {}, batch_ids {}; {applies} applies of one changed method",
        journal.map_or("100 (default)".to_owned(), |n| n.to_string()),
        batch_ids.map_or("1000 (default)".to_owned(), |n| n.to_string())
    );
    println!("applies  object memory in use  VM resident  journal  batch ids  seconds");
    report(&mut s, &mut call, &vm, 0, Instant::now());
    let started = Instant::now();
    let step = 1_000.min(applies);
    let mut done = 0;
    while done < applies {
        let n = step.min(applies - done);
        // Pipelined: each batch is made against the epoch the one before it leaves.
        let mut w = s.try_clone().expect("clone the socket");
        let batches: Vec<String> = (done..done + n)
            .map(|i| {
                let mut b = apply(
                    format!("b-{i}"),
                    first + i as u64,
                    json!([{"op": "put_method", "class_name": "BenchKept", "side": "instance",
                            "protocol": "values", "source": format!("value\n\t\"the {i}th version\"\n\t^ {i}")}]),
                );
                b["id"] = json!(1_000_000 + i);
                b.to_string()
            })
            .collect();
        let writer = std::thread::spawn(move || {
            for b in batches {
                w.write_all(&raw::frame(1, true, b.as_bytes()))
                    .expect("send a batch");
            }
        });
        for _ in 0..n {
            let a = raw::answer(&mut s);
            if a["ok"] != json!(true) {
                eprintln!("bench-journal: apply failed: {}", a["error"]);
                std::process::exit(1);
            }
        }
        writer.join().expect("the writer");
        done += n;
        report(&mut s, &mut call, &vm, done, started);
    }
}

fn report(
    s: &mut std::net::TcpStream,
    call: &mut impl FnMut(&mut std::net::TcpStream, Value) -> Value,
    vm: &common::Vm,
    done: usize,
    started: Instant,
) {
    let eval = |s: &mut std::net::TcpStream,
                call: &mut dyn FnMut(&mut std::net::TcpStream, Value) -> Value,
                e: &str| {
        call(s, json!({"cmd": "eval", "expression": e}))["value"]
            .as_str()
            .unwrap_or("?")
            .to_owned()
    };
    let used = eval(
        s,
        call,
        "Smalltalk garbageCollect. Smalltalk vmParameterAt: 2",
    );
    let journal = eval(s, call, "HpAgent current journal size");
    let ids = eval(s, call, "HpAgent current appliedBatches size");
    let rss = std::fs::read_to_string(format!("/proc/{}/status", vm.pid()))
        .ok()
        .and_then(|st| {
            st.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let mb = used
        .parse::<f64>()
        .map_or_else(|_| used.clone(), |b| format!("{:.1} MB", b / 1e6));
    println!(
        "{done:>7}  {mb:>20}  {rss:>11}  {journal:>7}  {ids:>9}  {:>7.1}",
        started.elapsed().as_secs_f64()
    );
}
