//! The wire between the client and the agent, exact at every size and in every alphabet (issue
//! 17), against the real VM: WebSocket framing at every length both ways, the control frames and
//! close codes, the one size limit, and pushed code that ends its own process.
//!
//! The framing sweep runs over one connection, pipelined. It covers every length from 0 to 1,100
//! (every 7-bit length and the first 16-bit ones, every value of the low length byte), every
//! length whose low byte is 0, 125, 126, 127, 128 or 255 up to 70,000 (every value of the high
//! byte), the boundaries (125-128, 65,535-65,537, 70,000, the configured maximum) and random
//! lengths up to 70,000 (seed printed; `HOTPATCH_WIRE_SEED` repeats a run,
//! `HOTPATCH_WIRE_EVERY_LENGTH=1` sends every length from 0 to 70,000 both ways, which takes
//! minutes in the interpreter).

mod common;

use common::{Vm, raw};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

/// The agent's `max_message_bytes` in these tests: the configured maximum is a boundary too.
const LIMIT: usize = 100_000;

/// A VM whose agent was started from a configuration text (`key=value` lines after the port and
/// token), as a supervisor starts it.
fn vm_configured(config: &str) -> Vm {
    vm_configured_with(config, &[])
}

fn vm_configured_with(config: &str, extra: &[String]) -> Vm {
    let port = common::free_port();
    let token = "wire-test-token".to_owned();
    let mut script = common::agent_filein();
    for text in extra {
        script.push('\n');
        script.push_str(text);
    }
    script.push_str(&format!(
        "\nHpAgent startFromConfigText: 'port={port}\ntoken={token}\n{config}'!\n"
    ));
    Vm::launch(&common::test_image(), &script, port, token)
}

/// xorshift64*: the sweep's random lengths, masks and payloads, repeatable from a seed.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("HOTPATCH_WIRE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(17, |d| d.as_nanos() as u64)
            });
        eprintln!("wire: seed {seed} (HOTPATCH_WIRE_SEED={seed} repeats this run)");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn mask(&mut self) -> [u8; 4] {
        self.next().to_le_bytes()[..4]
            .try_into()
            .unwrap_or([1, 2, 3, 4])
    }
}

fn every_length() -> bool {
    std::env::var("HOTPATCH_WIRE_EVERY_LENGTH").is_ok_and(|v| v == "1")
}

/// The lengths the sweep sends, in a shuffled order (so long and short frames alternate).
fn lengths(rng: &mut Rng, from: usize, to: usize, boundaries: &[usize]) -> Vec<usize> {
    let mut set = std::collections::BTreeSet::new();
    if every_length() {
        set.extend(from..=to);
    } else {
        set.extend(from..=1100.min(to));
        for high in 0..=(to >> 8) {
            for low in [0, 125, 126, 127, 128, 255] {
                set.insert((high << 8) | low);
            }
        }
        for _ in 0..300 {
            set.insert(from + rng.below(to - from + 1));
        }
    }
    set.extend(boundaries.iter().copied());
    let mut all: Vec<usize> = set.into_iter().filter(|n| *n >= from).collect();
    for i in (1..all.len()).rev() {
        let j = rng.below(i + 1);
        all.swap(i, j);
    }
    all
}

/// What the agent must send back for one thing the sweep sent, in order.
#[derive(Debug)]
enum Expect {
    /// The answer to a ping whose id is this.
    Answer(u64),
    /// The answer to a message too short to be a request (no id): bad_request.
    NotARequest,
    /// A pong with exactly this payload.
    Pong(Vec<u8>),
}

/// A request of exactly `len` bytes with id `id`: a ping padded with text (MacRoman letters
/// among it, two bytes each in UTF-8), or, shorter than a ping can be, a JSON object without an
/// id (`{   }`), or not JSON at all.
fn request_of(len: usize, id: u64, rng: &mut Rng) -> (Vec<u8>, Expect) {
    let core = format!(r#"{{"id":{id},"cmd":"ping""#);
    let with_pad = core.len() + r#","pad":""}"#.len();
    if len >= with_pad {
        let mut m = format!(r#"{core},"pad":""#).into_bytes();
        while m.len() < len - 2 {
            let room = len - 2 - m.len();
            match rng.below(40) {
                0 if room >= 2 => m.extend_from_slice("é".as_bytes()),
                1 if room >= 3 => m.extend_from_slice("€".as_bytes()),
                _ => {
                    let c = 0x20 + rng.below(0x5f) as u8;
                    m.push(if c == b'"' || c == b'\\' { b'x' } else { c });
                }
            }
        }
        m.extend_from_slice(br#""}"#);
        return (m, Expect::Answer(id));
    }
    if len > core.len() {
        let mut m = core.into_bytes();
        while m.len() < len - 1 {
            m.push(b" \t\r\n"[rng.below(4)]);
        }
        m.push(b'}');
        return (m, Expect::Answer(id));
    }
    match len {
        0 => (Vec::new(), Expect::NotARequest),
        1 => (b" ".to_vec(), Expect::NotARequest),
        n => {
            let mut m = vec![b'{'];
            m.extend(std::iter::repeat_n(b' ', n - 2));
            m.push(b'}');
            (m, Expect::NotARequest)
        }
    }
}

/// The frames of one message: whole, or (every few messages) cut into fragments at random
/// places, empty ones included, with a ping between two of them now and then.
fn frames_of(message: &[u8], rng: &mut Rng, expects: &mut Vec<(Expect, String)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    if rng.below(5) != 0 {
        out.extend(raw::frame_with(0x81, message, rng.mask()));
        return out;
    }
    let mut cuts: Vec<usize> = (0..1 + rng.below(3))
        .map(|_| rng.below(message.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut start = 0;
    let pieces = cuts.len() + 1;
    for (i, end) in cuts.into_iter().chain([message.len()]).enumerate() {
        let opcode = if i == 0 { 0x1 } else { 0x0 };
        let fin = if i + 1 == pieces { 0x80 } else { 0 };
        out.extend(raw::frame_with(
            fin | opcode,
            &message[start..end],
            rng.mask(),
        ));
        start = end;
        if fin == 0 && rng.below(2) == 0 {
            let ping: Vec<u8> = (0..rng.below(126)).map(|_| rng.next() as u8).collect();
            out.extend(raw::frame_with(0x89, &ping, rng.mask()));
            let what = format!(
                "the pong to a ping of {} bytes between the fragments of a message of {} bytes",
                ping.len(),
                message.len()
            );
            expects.push((Expect::Pong(ping), what));
        }
    }
    out
}

/// Reads one frame and checks what every server frame must be: final, not masked, no reserved
/// bits, its length in the one encoding allowed.
fn server_frame(s: &mut TcpStream, vm: &Vm, what: &str) -> raw::Frame {
    let f = raw::read_frame_exact(s)
        .unwrap_or_else(|| panic!("the agent closed the connection at {what}\n{}", vm.logs()));
    if f.opcode == 0x8 {
        panic!(
            "the agent closed the connection (close frame {:?}) instead of sending {what}",
            f.payload
        );
    }
    assert!(f.fin && f.rsv == 0 && !f.masked, "{what}: frame {f:?}");
    assert!(
        f.length_is_minimal(),
        "{what}: a payload of {} bytes sent with a {}-bit length",
        f.payload.len(),
        f.length_bits
    );
    f
}

fn check_answer(s: &mut TcpStream, vm: &Vm, expect: &Expect, what: &str) {
    let f = server_frame(s, vm, what);
    match expect {
        Expect::Pong(payload) => {
            assert_eq!(f.opcode, 0xA, "{what}: expected a pong");
            assert_eq!(&f.payload, payload, "{what}: the pong's payload");
        }
        Expect::Answer(id) => {
            assert_eq!(f.opcode, 0x1, "{what}: expected a text frame");
            let a: serde_json::Value = serde_json::from_slice(&f.payload)
                .unwrap_or_else(|e| panic!("{what}: not JSON ({e})"));
            assert_eq!(a["id"], *id, "{what}: {a}");
            assert_eq!(a["ok"], true, "{what}: {a}");
        }
        Expect::NotARequest => {
            assert_eq!(f.opcode, 0x1, "{what}: expected a text frame");
            let a: serde_json::Value = serde_json::from_slice(&f.payload)
                .unwrap_or_else(|e| panic!("{what}: not JSON ({e})"));
            assert_eq!(a["id"], serde_json::Value::Null, "{what}: {a}");
            assert_eq!(a["error"]["kind"], "bad_request", "{what}: {a}");
        }
    }
}

/// Every length from the client, fragmented and not, masked with a fresh key each frame, then
/// every length from the agent: pongs of 0 to 125 bytes, and answers of every length the sweep
/// picks up to the configured maximum, each byte for byte as predicted.
/// A class whose instances print as `size` letters a, exactly: the test image's own printString
/// cuts a long string short ("...etc...").
const WIRE_PROBE: &str = "Object subclass: #WireProbe instanceVariableNames: 'size' classVariableNames: '' poolDictionaries: '' category: 'Wire-Probe'!
!WireProbe class methodsFor: 'instance creation'!
size: anInteger
	^ self new setSize: anInteger! !
!WireProbe methodsFor: 'printing'!
setSize: anInteger
	size := anInteger!
printString
	^ String new: size withAll: $a! !
";

#[test]
fn frames_are_exact_at_every_length_both_ways() {
    let vm = vm_configured_with(
        &format!("max_message_bytes={LIMIT}"),
        &[WIRE_PROBE.to_owned()],
    );
    let mut rng = Rng::from_env();
    let mut s = raw::authenticated(vm.port, &vm.token);
    s.set_read_timeout(Some(Duration::from_secs(600))).unwrap();

    // Client to agent: the sweep, written by one thread while this one reads the answers.
    let sizes = lengths(
        &mut rng,
        0,
        70_000,
        &[
            125,
            126,
            127,
            128,
            65_535,
            65_536,
            65_537,
            70_000,
            LIMIT - 1,
            LIMIT,
        ],
    );
    let mut expects = Vec::new();
    let mut wire = Vec::new();
    for (i, len) in sizes.iter().enumerate() {
        let (message, expect) = request_of(*len, 100 + i as u64, &mut rng);
        assert_eq!(message.len(), *len);
        let before = expects.len();
        let frames = frames_of(&message, &mut rng, &mut expects);
        let how = if expects.len() > before || frames.len() > len + 14 {
            "fragmented"
        } else {
            "in one frame"
        };
        expects.push((
            expect,
            format!("the answer to a message of {len} bytes ({how})"),
        ));
        wire.push((*len, frames));
    }
    let mut w = s.try_clone().expect("clone the socket");
    let writer = std::thread::spawn(move || {
        for (len, frames) in wire {
            w.write_all(&frames)
                .unwrap_or_else(|e| panic!("sending a message of {len} bytes: {e}"));
        }
    });
    for (expect, what) in &expects {
        check_answer(&mut s, &vm, expect, what);
    }
    writer.join().expect("the writer");
    eprintln!(
        "wire: {} messages from the client answered, {} of {} to {} bytes",
        sizes.len(),
        sizes.len(),
        sizes.iter().min().unwrap_or(&0),
        sizes.iter().max().unwrap_or(&0)
    );

    // Agent to client: every control-frame length...
    for len in 0..=125usize {
        let ping: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        s.write_all(&raw::frame_with(0x89, &ping, rng.mask()))
            .unwrap();
        check_answer(&mut s, &vm, &Expect::Pong(ping), &format!("pong of {len}"));
    }
    // ...and answers of exactly the lengths picked: an eval of `WireProbe size: k` is
    // answered `{"id": N, "ok": true, "result": {"value": "aa…a"}}`.
    let answer = |id: u64, k: usize| {
        format!(
            r#"{{"id": {id}, "ok": true, "result": {{"value": "{}"}}}}"#,
            "a".repeat(k)
        )
    };
    let shortest = answer(1_000_000, 0).len();
    let sizes = lengths(
        &mut rng,
        shortest,
        70_000,
        &[125, 126, 127, 128, 65_535, 65_536, 65_537, 70_000, LIMIT],
    );
    let mut w = s.try_clone().expect("clone the socket");
    let requests: Vec<(u64, usize)> = sizes
        .iter()
        .enumerate()
        .map(|(i, len)| {
            let id = 1_000_000 + i as u64;
            (id, len - answer(id, 0).len())
        })
        .collect();
    let sent = requests.clone();
    let writer = std::thread::spawn(move || {
        for (id, k) in sent {
            let request = serde_json::json!({"id": id, "cmd": "eval",
                "expression": format!("WireProbe size: {k}")});
            w.write_all(&raw::frame(1, true, request.to_string().as_bytes()))
                .expect("send an eval");
        }
    });
    for ((id, k), len) in requests.iter().zip(&sizes) {
        let f = server_frame(&mut s, &vm, &format!("the answer of {len} bytes"));
        assert_eq!(f.opcode, 1);
        let expected = answer(*id, *k);
        if f.payload != expected.as_bytes() {
            let at = f
                .payload
                .iter()
                .zip(expected.as_bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(f.payload.len().min(expected.len()));
            panic!(
                "the answer of {len} bytes came as {} bytes, differing from byte {at} on: {:?} instead of {:?}",
                f.payload.len(),
                String::from_utf8_lossy(&f.payload[at..(at + 60).min(f.payload.len())]),
                &expected[at..(at + 60).min(expected.len())]
            );
        }
    }
    writer.join().expect("the writer");

    // One byte more than the maximum is not sent: the agent answers too_large instead.
    let k = LIMIT + 1 - answer(7, 0).len();
    raw::text(
        &mut s,
        &serde_json::json!({"id": 7, "cmd": "eval", "expression": format!("WireProbe size: {k}")})
            .to_string(),
    );
    let a = raw::answer(&mut s);
    assert_eq!(a["error"]["kind"], "too_large", "{a}");
    assert_eq!(a["error"]["size"], LIMIT + 1, "{a}");
    assert_eq!(a["error"]["limit"], LIMIT, "{a}");
    // The connection is still good.
    raw::text(&mut s, r#"{"id": 8, "cmd": "ping"}"#);
    assert_eq!(raw::answer(&mut s)["id"], 8);
}

/// Sends `bytes` on a fresh authenticated connection and answers the payload of the close frame
/// the agent sends back (frames before it are skipped); `None` when it closed without one.
fn close_after(vm: &Vm, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut s = raw::authenticated(vm.port, &vm.token);
    s.write_all(bytes).expect("send");
    while let Some(f) = raw::read_frame_exact(&mut s) {
        if f.opcode == 0x8 {
            return Some(f.payload);
        }
    }
    None
}

fn code(payload: &Option<Vec<u8>>) -> Option<u16> {
    payload
        .as_ref()
        .filter(|p| p.len() >= 2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
}

const MASK: [u8; 4] = [0x5a, 0x0f, 0xa5, 0xf0];

fn ping_request(id: u64) -> Vec<u8> {
    format!(r#"{{"id": {id}, "cmd": "ping"}}"#).into_bytes()
}

/// RFC 6455's rules for control frames, continuation and close codes, each against the real
/// agent: what it answers, and the close code it ends a connection with.
#[test]
fn control_frames_continuation_and_close_codes_follow_rfc_6455() {
    let vm = vm_configured(&format!("max_message_bytes={LIMIT}"));
    let close = |payload: &[u8]| raw::frame_with(0x88, payload, MASK);

    // A close is answered with a close: the client's status code, or none.
    assert_eq!(
        close_after(&vm, &close(&1000u16.to_be_bytes())),
        Some(1000u16.to_be_bytes().to_vec())
    );
    let mut with_reason = 4000u16.to_be_bytes().to_vec();
    with_reason.extend_from_slice("done, merci".as_bytes());
    assert_eq!(
        close_after(&vm, &close(&with_reason)),
        Some(4000u16.to_be_bytes().to_vec())
    );
    assert_eq!(close_after(&vm, &close(&[])), Some(Vec::new()));
    // A 1-byte close payload, and codes a peer may never send, are protocol errors.
    assert_eq!(code(&close_after(&vm, &close(&[3]))), Some(1002));
    for bad in [0u16, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000] {
        assert_eq!(
            code(&close_after(&vm, &close(&bad.to_be_bytes()))),
            Some(1002),
            "close code {bad}"
        );
    }

    // Control frames: at most 125 bytes, never fragmented.
    assert_eq!(
        code(&close_after(&vm, &raw::frame_with(0x89, &[7; 126], MASK))),
        Some(1002)
    );
    assert_eq!(
        code(&close_after(&vm, &raw::frame_with(0x09, b"part", MASK))),
        Some(1002)
    );
    // An unasked-for pong is ignored; a ping of 125 bytes is answered with the same 125.
    let mut s = raw::authenticated(vm.port, &vm.token);
    s.write_all(&raw::frame_with(0x8A, b"unasked", MASK))
        .unwrap();
    s.write_all(&raw::frame_with(0x89, &[0xee; 125], MASK))
        .unwrap();
    s.write_all(&raw::frame_with(0x81, &ping_request(2), MASK))
        .unwrap();
    let pong = raw::read_frame_exact(&mut s).expect("a pong");
    assert_eq!((pong.opcode, pong.payload), (0xA, vec![0xee; 125]));
    assert_eq!(raw::answer(&mut s)["id"], 2);

    // Continuation: none without a message, no new message inside one.
    assert_eq!(
        code(&close_after(
            &vm,
            &raw::frame_with(0x80, &ping_request(3), MASK)
        )),
        Some(1002)
    );
    let mut inside = raw::frame_with(0x01, b"{\"id\": 4,", MASK);
    inside.extend(raw::frame_with(0x81, &ping_request(5), MASK));
    assert_eq!(code(&close_after(&vm, &inside)), Some(1002));
    // A fragmented message with an empty fragment and a ping between its fragments.
    let mut s = raw::authenticated(vm.port, &vm.token);
    let m = ping_request(6);
    let mut frames = raw::frame_with(0x01, &m[..5], MASK);
    frames.extend(raw::frame_with(0x00, &[], MASK));
    frames.extend(raw::frame_with(0x89, b"?", MASK));
    frames.extend(raw::frame_with(0x80, &m[5..], MASK));
    s.write_all(&frames).unwrap();
    assert_eq!(
        raw::read_frame_exact(&mut s).map(|f| (f.opcode, f.payload)),
        Some((0xA, b"?".to_vec()))
    );
    assert_eq!(raw::answer(&mut s)["id"], 6);

    // Binary messages, reserved bits and opcodes, unmasked frames.
    assert_eq!(
        code(&close_after(&vm, &raw::frame_with(0x82, b"\x00\x01", MASK))),
        Some(1003)
    );
    for first in [0xC1u8, 0xA1, 0x91, 0x83, 0x87, 0x8B, 0x8F] {
        assert_eq!(
            code(&close_after(
                &vm,
                &raw::frame_with(first, &ping_request(7), MASK)
            )),
            Some(1002),
            "first byte {first:#x}"
        );
    }
    let mut unmasked = vec![0x81, 22];
    unmasked.extend(ping_request(8).iter().take(22));
    assert_eq!(code(&close_after(&vm, &unmasked)), Some(1002));
    // A 64-bit length with its top bit set.
    let mut huge = vec![0x81, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 63 | 10).to_be_bytes());
    huge.extend_from_slice(&MASK);
    assert_eq!(code(&close_after(&vm, &huge)), Some(1002));

    // Text that is not UTF-8: a stray continuation byte, an overlong form, a surrogate, a cut
    // sequence, a code point over U+10FFFF.
    for bad in [
        &b"\x80"[..],
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xe2\x82",
        b"\xf4\x90\x80\x80",
    ] {
        let mut m = br#"{"id": 9, "cmd": "ping", "x": ""#.to_vec();
        m.extend_from_slice(bad);
        m.extend_from_slice(br#""}"#);
        assert_eq!(
            code(&close_after(&vm, &raw::frame_with(0x81, &m, MASK))),
            Some(1007),
            "{bad:?}"
        );
    }

    // The configured maximum: a message of exactly that many bytes, in two fragments, is read;
    // one byte more is refused from the frame header, before any payload is sent.
    let mut s = raw::authenticated(vm.port, &vm.token);
    let head = br#"{"id": 10, "cmd": "ping", "pad": ""#;
    let mut m = head.to_vec();
    m.resize(LIMIT - 2, b'p');
    m.extend_from_slice(br#""}"#);
    let mut frames = raw::frame_with(0x01, &m[..60_000], MASK);
    frames.extend(raw::frame_with(0x80, &m[60_000..], MASK));
    s.write_all(&frames).unwrap();
    assert_eq!(raw::answer(&mut s)["id"], 10);
    let mut header_only = raw::frame_with(0x81, &vec![b' '; LIMIT + 1], MASK);
    header_only.truncate(2 + 8 + 4);
    assert_eq!(code(&close_after(&vm, &header_only)), Some(1009));
    let mut over = raw::frame_with(0x01, &m[..60_000], MASK);
    over.extend(&raw::frame_with(0x80, &vec![b' '; 40_001], MASK)[..2 + 2 + 4]);
    assert_eq!(code(&close_after(&vm, &over)), Some(1009));
    // A refusal is logged: nothing else would tell the image's operator why a client failed.
    let log = std::fs::read_to_string(vm.dir.join("hotpatch-agent.log")).unwrap_or_default();
    assert!(
        log.contains("with 1009"),
        "no 1009 in the agent's log:\n{log}"
    );
}

/// Makes `p` own the one package `package` (hotpatch.toml's `packages`) and gives it a folder
/// with its `package.st`; answers the folder.
fn own_package(p: &common::project::Project, package: &str) -> std::path::PathBuf {
    let config = std::fs::read_to_string(p.dir.join("hotpatch.toml")).expect("read config");
    let config: Vec<String> = config
        .lines()
        .map(|l| {
            if l.starts_with("packages") {
                format!("packages = [\"{package}\"]")
            } else {
                l.to_owned()
            }
        })
        .collect();
    std::fs::write(p.dir.join("hotpatch.toml"), config.join("\n")).expect("write config");
    let dir = p.dir.join("src").join(package);
    std::fs::create_dir_all(&dir).expect("create the package folder");
    std::fs::write(
        dir.join("package.st"),
        format!("Package {{ #name : '{package}' }}\n"),
    )
    .expect("write package.st");
    dir
}

/// A project of the package `Café-Core` (package, tag, class comment, protocol, literals,
/// comments, all beyond ASCII), pushing to `vm`.
fn cafe_project(vm: &Vm, name: &str) -> common::project::Project {
    let p = common::project::Project::new(vm, name);
    let dir = own_package(&p, "Café-Core");
    std::fs::write(dir.join("WireText.class.st"), WIRE_TEXT).expect("write");
    p
}

const WIRE_TEXT: &str = r#""
Ærø: I hold text from beyond ASCII — a café, a €, „quotes“.

	WireText new word size   ""4""
"
Class {
	#name : 'WireText',
	#superclass : 'Object',
	#package : 'Café-Core',
	#tag : 'Àccents'
}

{ #category : 'accès' }
WireText >> symbol [

	^ #'größe'
]

{ #category : 'accès' }
WireText >> word [
	"naïve — the café's word"

	^ 'café'
]
"#;

/// UTF-8 on the wire both ways in the Squeak 2.x test image, whose strings hold MacRoman: every
/// character it can hold is pushed, read back, diffed clean and pulled byte for byte, `'café'`
/// answers 4 for `size`, a class made in the image with a name beyond ASCII is pulled, and a
/// character the image cannot hold is refused before anything changes, at its file:line:col.
#[test]
fn text_beyond_ascii_is_exact_both_ways_and_what_the_image_cannot_hold_is_refused() {
    let vm = Vm::start();
    let p = cafe_project(&vm, "cafe");
    p.run(&["push"], 0);

    // The agent's map of the image's 256 characters is the image's own: String>>asUTF8 of the
    // Scratch image converts every byte as the agent does, and every code point of the map
    // decodes to its byte again.
    assert_eq!(
        vm.eval(
            "(0 to: 255) reject: [ :i | | s | s := String with: (Character value: i). \
             s asUTF8 asByteArray = (HpPlatform current utf8Encode: s) \
             and: [ (HpPlatform current utf8Decode: (HpPlatform current utf8Encode: s) unholdable: OrderedCollection new) = s ] ]"
        ),
        "()"
    );
    // The image holds its own characters: four of them, the last MacRoman's e-acute (142).
    assert_eq!(vm.eval("WireText new word size"), "4");
    assert_eq!(vm.eval("(WireText new word at: 4) asciiValue"), "142");
    assert_eq!(vm.eval("WireText new symbol size"), "5");
    assert_eq!(vm.eval("WireText new word"), "'café'");
    assert_eq!(vm.eval("WireText category"), "#'Café-Core-Àccents'");
    // Read back and compared: nothing differs.
    p.run(&["diff"], 0);
    let out = p.run(&["status"], 0);
    assert!(out.contains("drift    none"), "{out}");

    // A hand edit in the image, beyond ASCII, pulled into the file byte for byte.
    vm.keep_sources();
    let edited = "word\n\t\"naïve — edited by hand, 5 €\"\n\n\t^ 'café au lait'";
    vm.hand_edit("WireText", edited, "accès");
    p.run(&["pull"], 0);
    let file = p.dir.join("src/Café-Core/WireText.class.st");
    let expected = WIRE_TEXT.replace(
        "WireText >> word [\n\t\"naïve — the café's word\"\n\n\t^ 'café'\n]",
        "WireText >> word [\n\t\"naïve — edited by hand, 5 €\"\n\n\t^ 'café au lait'\n]",
    );
    assert_ne!(expected, WIRE_TEXT);
    assert_eq!(std::fs::read_to_string(&file).expect("read"), expected);
    p.run(&["diff"], 0);
    assert_eq!(vm.eval("WireText new word size"), "12");

    // A class made in the image, named beyond ASCII, comes into the files with its name.
    assert_eq!(
        vm.eval("Object subclass: #'Café' instanceVariableNames: 'cream' classVariableNames: '' poolDictionaries: '' category: 'Café-Core'. #made"),
        "#made"
    );
    p.run(&["pull"], 0);
    let class = std::fs::read_to_string(p.dir.join("src/Café-Core/Café.class.st"))
        .expect("pull wrote Café.class.st");
    assert!(class.contains("#name : 'Café'"), "{class}");
    assert!(class.contains("'cream'"), "{class}");
    p.run(&["diff"], 0);

    // What MacRoman cannot hold is refused before anything changes, named at file:line:col:
    // in a method's source...
    let epoch = vm.epoch();
    let with_kanji = expected.replace(
        "{ #category : 'accès' }\nWireText >> symbol [",
        "{ #category : 'accès' }\nWireText >> kanji [\n\n\t^ 'x 日本語'\n]\n\n{ #category : 'accès' }\nWireText >> symbol [",
    );
    std::fs::write(&file, &with_kanji).expect("write");
    let (line, column) = with_kanji
        .lines()
        .enumerate()
        .find_map(|(n, l)| l.find('日').map(|b| (n + 1, l[..b].chars().count() + 1)))
        .expect("the kanji line");
    let out = p.run(&["push"], 4);
    let at = format!(
        "WireText.class.st:{line}:{column}: U+65E5 '日' is a character the image's strings cannot hold (they hold MacRoman)"
    );
    assert!(out.contains(&at), "expected {at:?} in:\n{out}");
    assert_eq!(vm.epoch(), epoch, "the refused push changed the image");
    assert_eq!(vm.eval("WireText new respondsTo: #kanji"), "false");
    // ...and in a class comment, found where it is in the file.
    std::fs::write(&file, expected.replace("a €,", "a €, a ✓,")).expect("write");
    let out = p.push_json(&[], 4);
    assert_eq!(out["error"]["kind"], "unholdable_character", "{out}");
    assert_eq!(out["error"]["errors"][0]["line"], 2, "{out}");
    assert_eq!(out["error"]["errors"][0]["column"], 53, "{out}");
    assert_eq!(vm.epoch(), epoch);
    // The file as it was: nothing to push.
    std::fs::write(&file, &expected).expect("write");
    p.run(&["diff"], 0);
}

/// A project of the package `Big-Core`: `classes` classes of `methods` methods, each method
/// about 300 bytes, pushing to `vm`.
fn big_project(vm: &Vm, name: &str, classes: usize, methods: usize) -> common::project::Project {
    let p = common::project::Project::new(vm, name);
    let dir = own_package(&p, "Big-Core");
    for c in 0..classes {
        let mut text = format!(
            "\"\nI am class {c} of a package larger than the size limit.\n\"\nClass {{\n\t#name : 'BigThing{c:02}',\n\t#superclass : 'Object',\n\t#package : 'Big-Core'\n}}\n"
        );
        for m in 0..methods {
            text.push_str(&format!(
                "\n{{ #category : 'filler' }}\nBigThing{c:02} >> m{m:02} [\n\t\"method {m} of class {c}: words to make the snapshot large\"\n\n\t^ '{}'\n]\n",
                "x".repeat(220)
            ));
        }
        std::fs::write(dir.join(format!("BigThing{c:02}.class.st")), text).expect("write");
    }
    p
}

/// One limit on both sides, said honestly: a request over it is not sent (exit 11, which
/// message, how large, which setting), an answer over it is not sent either, and a snapshot of a
/// package larger than it comes in parts.
#[test]
fn a_message_over_the_size_limit_is_refused_as_too_large_and_snapshots_come_in_parts() {
    const AGENT_LIMIT: usize = 200_000;
    let vm = vm_configured(&format!("max_message_bytes={AGENT_LIMIT}"));
    let p = big_project(&vm, "big", 30, 30);
    let epoch = vm.epoch();

    // The whole package in one batch is larger than the agent's limit: not sent.
    let out = p.run(&["push"], 11);
    assert!(
        out.contains("more than the limit of 200000 bytes (the agent's max_message_bytes)")
            && out.contains("nothing was sent")
            && out.contains("max_message_bytes"),
        "{out}"
    );
    let json = p.push_json(&[], 11);
    assert_eq!(json["error"]["kind"], "too_large", "{json}");
    assert_eq!(
        vm.epoch(),
        epoch,
        "a batch over the limit changed the image"
    );

    // A third at a time fits.
    let files = |range: std::ops::Range<usize>| -> Vec<String> {
        range
            .map(|c| format!("src/Big-Core/BigThing{c:02}.class.st"))
            .collect()
    };
    for range in [0..10, 10..20, 20..30] {
        let mut args = vec!["push".to_owned()];
        args.extend(files(range));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        p.run(&args, 0);
    }

    // The package's snapshot is larger than the limit (asked without parts, the agent says
    // so), yet diff reads it, in parts, and finds nothing to do.
    let mut s = raw::authenticated(vm.port, &vm.token);
    raw::text(
        &mut s,
        r#"{"id": 2, "cmd": "snapshot", "packages": ["Big-Core"]}"#,
    );
    let a = raw::answer(&mut s);
    assert_eq!(a["error"]["kind"], "too_large", "{a}");
    assert!(
        a["error"]["size"].as_u64().unwrap_or(0) > AGENT_LIMIT as u64,
        "{a}"
    );
    p.run(&["diff"], 0);
    p.run(&["push", "--no-cache"], 0);
    // With a client limit of 20,000 bytes the parts are smaller and more; still nothing differs.
    p.run(
        &["diff", "--set", "targets.local.max_message_bytes=20000"],
        0,
    );

    // An answer over the client's limit is not sent: the agent says how large it would be.
    let out = p.run(
        &[
            "eval",
            "--set",
            "targets.local.max_message_bytes=20000",
            "String new: 30000 withAll: $a",
        ],
        11,
    );
    assert!(out.contains("more than the limit of 20000 bytes"), "{out}");
    // An out-of-range setting is a configuration error that names the range.
    let out = p.run(
        &["status", "--set", "targets.local.max_message_bytes=100"],
        2,
    );
    assert!(
        out.contains("from 4096 (4 KiB) to 1073741824 (1 GiB)"),
        "{out}"
    );
}

/// The bytes this client sends for `request` as its `id`-th message (hello is the first): the
/// same serialization as `Client::call`.
fn request_bytes(id: u64, request: hotpatch::image::protocol::Request) -> usize {
    serde_json::to_string(&hotpatch::image::protocol::Envelope {
        id,
        progress: false,
        request,
    })
    .expect("serialize")
    .len()
}

/// How many more characters make `request` 127 bytes long.
fn to_127(bytes: usize) -> usize {
    127usize
        .checked_sub(bytes)
        .expect("the request is already longer than 127 bytes")
}

/// The issue's four ways a 127-byte message broke the connection for good: an eval of 90
/// characters, a token of 55 characters (the hello), an 18-character HOTPATCH_USER (rollback),
/// a package name of 73 characters (snapshot). Each is tried with the issue's length and with
/// the length that makes this client's message 127 bytes (a hello now also says the client's
/// max_message_bytes, a snapshot that it takes parts).
#[test]
fn messages_of_127_bytes_work_the_four_ways_the_issue_found() {
    use hotpatch::image::protocol::{ClientIdentity, Request};
    let port = common::free_port();
    let token55 = "t".repeat(55);
    let script = format!(
        "{}\nHpAgent startOn: {port} token: '{token55}'!\n",
        common::agent_filein()
    );
    let vm = Vm::launch(&common::test_image(), &script, port, token55.clone());
    let p = common::project::Project::new(&vm, "127");

    // The hello of a 55-character token (127 bytes from the issue's client) connects.
    p.run(&["status"], 0);

    // eval: 90 characters make `{"id":2,"cmd":"eval","expression":"…"}` 127 bytes.
    let eval = |n: usize| Request::Eval {
        expression: "x".repeat(n),
        timeout_ms: None,
    };
    assert_eq!(request_bytes(2, eval(90)), 127);
    let expression = format!("'{}' size", "a".repeat(90 - 7));
    assert_eq!(expression.len(), 90);
    assert_eq!(p.run(&["eval", &expression], 0).trim(), "83");

    // rollback: the issue's 18-character HOTPATCH_USER from the CLI, from a folder outside git
    // (as in the issue: no commit to report); and a rollback of exactly 127 bytes from the
    // client, with the hooks `rollback --no-hooks` sends and a user that makes it so (the CLI's
    // own rollback also names this machine's host and tool, and now carries hooks: longer than
    // 127 bytes here).
    let outside_git = p.dir.parent().expect("the project's parent").to_owned();
    let overrides = hotpatch::config::Overrides::default();
    let target = hotpatch::config::Config::load(&p.dir, &overrides)
        .and_then(|c| c.target(&overrides))
        .expect("the project's target");
    let identity = |user: &str| ClientIdentity {
        user: Some(user.to_owned()),
        ..ClientIdentity::default()
    };
    let rt = common::runtime();
    for how in ["cli", "127 bytes"] {
        p.run(&["push"], 0);
        p.edit("SampleApp.class.st", "Hello", "Hi");
        p.run(&["push"], 0);
        if how == "cli" {
            let out = p.hotpatch_env(
                &["rollback"],
                &[
                    ("HOTPATCH_USER", "u".repeat(18).as_str()),
                    ("GIT_CEILING_DIRECTORIES", &outside_git.to_string_lossy()),
                ],
            );
            assert_eq!(
                out.status.code(),
                Some(0),
                "rollback with an 18-character HOTPATCH_USER: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            let mut client = rt
                .block_on(hotpatch::image::Client::connect(
                    &vm.url,
                    &vm.token,
                    Duration::from_secs(30),
                ))
                .expect("connect");
            let hooks = hotpatch::ops::hooks_for(&target, &client.hello, false).expect("hooks");
            let rollback = |user: &str| Request::Rollback {
                client: Some(identity(user)),
                hooks: hooks.clone(),
            };
            let user = "u".repeat(to_127(request_bytes(2, rollback(""))));
            assert_eq!(request_bytes(2, rollback(&user)), 127);
            let undone = rt.block_on(client.rollback_with(Some(identity(&user)), hooks.clone()));
            rt.block_on(client.close());
            assert!(undone.is_ok(), "a rollback of 127 bytes: {undone:?}");
        }
        p.edit("SampleApp.class.st", "Hi", "Hello");
    }

    // snapshot (diff, push) of a package whose name makes the request 127 bytes, and of one
    // of 73 characters.
    let snapshot = |name: &str| Request::Snapshot {
        packages: vec![name.to_owned()],
        classes: None,
        since_epoch: None,
        since_evals: None,
        drift: true,
        parts: true,
    };
    let exact = to_127(request_bytes(2, snapshot("")));
    assert_eq!(request_bytes(2, snapshot(&"P".repeat(exact))), 127);
    for n in [exact, 73] {
        let name = format!("P{}", "k".repeat(n - 1));
        let dir = own_package(&p, &name);
        std::fs::write(
            dir.join(format!("Long{n}.class.st")),
            format!(
                "Class {{\n\t#name : 'Long{n}',\n\t#superclass : 'Object',\n\t#package : '{name}'\n}}\n\n{{ #category : 'x' }}\nLong{n} >> one [\n\n\t^ 1\n]\n"
            ),
        )
        .expect("write");
        p.run(&["diff"], 1);
        p.run(&["push"], 0);
        p.run(&["diff"], 0);
    }

    // The hello of a token that makes this client's hello 127 bytes: the agent restarts with
    // it (from a process of its own, after the eval is answered).
    let hello = |token: &str| Request::Hello {
        token: token.to_owned(),
        protocol: hotpatch::image::protocol::PROTOCOL_VERSION,
        client: format!("hotpatch {}", env!("CARGO_PKG_VERSION")),
        max_message_bytes: Some(hotpatch::image::client::DEFAULT_MAX_MESSAGE_BYTES),
    };
    assert_eq!(
        request_bytes(1, hello(&token55)) - 55,
        request_bytes(1, hello(""))
    );
    let token = "t".repeat(to_127(request_bytes(1, hello(""))));
    assert_eq!(request_bytes(1, hello(&token)), 127);
    vm.eval(&format!(
        "[ (Delay forMilliseconds: 300) wait. HpAgent startOn: {port} token: '{token}' ] fork. #restarting"
    ));
    let mut connected = false;
    for _ in 0..600 {
        let attempt = rt.block_on(hotpatch::image::Client::connect(
            &vm.url,
            &token,
            Duration::from_secs(5),
        ));
        if let Ok(c) = attempt {
            rt.block_on(c.close());
            connected = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(connected, "no agent with the new token\n{}", vm.logs());
    let out = p.hotpatch_env(&["status"], &[("HOTPATCH_TOKEN", token.as_str())]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "status with a hello of 127 bytes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A batch that defines `name` (package Wire-Core) with a class-side initialize of `body`.
fn with_initializer(
    id: &str,
    epoch: u64,
    name: &str,
    body: &str,
) -> hotpatch::image::protocol::Batch {
    common::batches::with_initializer(id, epoch, name, "Wire-Core", body)
}

/// Pushed code that ends or suspends its own process is answered at once with what happened,
/// not after its time limit: the limit here is ten minutes, and the answers must say what the
/// code did, which a time-out would not.
#[test]
fn code_that_ends_its_own_process_is_answered_with_what_happened() {
    let vm = Vm::start();
    let limit = Some(Duration::from_secs(600));
    common::runtime().block_on(async {
        let mut c = vm.client().await;
        for (expression, says) in [
            (
                "Processor activeProcess terminate. 5",
                "ended its own process",
            ),
            ("Processor terminateActive. 5", "ended its own process"),
            (
                "[ Processor activeProcess terminate ] value. 5",
                "ended its own process",
            ),
            (
                "Processor activeProcess suspend. 5",
                "suspended its own process",
            ),
        ] {
            let err = c
                .eval_within(expression, limit)
                .await
                .expect_err(expression);
            let text = err.to_string();
            assert!(text.contains(says), "{expression}: {text}");
            assert!(!text.contains("within"), "{expression} timed out: {text}");
        }
        // The agent serves on.
        assert_eq!(c.eval("3 + 4").await.expect("eval"), "7");
        // A class initializer that ends its own process fails the batch at once; nothing changed.
        let epoch = c.ping().await.expect("ping").epoch;
        let err = c
            .call(hotpatch::image::protocol::Request::Apply {
                batch: with_initializer(
                    "b-ends",
                    epoch,
                    "WireEnding",
                    "Processor activeProcess terminate",
                ),
                options: Default::default(),
                timeout_ms: Some(600_000),
            })
            .await
            .expect_err("an initializer that ends its process");
        let text = err.to_string();
        assert!(
            text.contains("apply_failed") && text.contains("ended its own process"),
            "{text}"
        );
        assert_eq!(c.ping().await.expect("ping").epoch, epoch);
        assert_eq!(
            c.eval("Smalltalk includesKey: #WireEnding")
                .await
                .expect("eval"),
            "false"
        );
        c.close().await;
    });
}

/// The journal of applied batches and the record of their ids are bounded (journal_entries,
/// batch_ids), the oldest dropped first: the rollback depth is journal_entries, and a retried
/// batch whose id was dropped is answered stale, never applied twice.
#[test]
fn the_journal_and_the_batch_ids_keep_only_the_newest() {
    let vm = vm_configured("journal_entries=3\nbatch_ids=4");
    common::runtime().block_on(async {
        let mut c = vm.client().await;
        let mut first = None;
        for i in 0..6 {
            let epoch = c.ping().await.expect("ping").epoch;
            let batch =
                with_initializer(&format!("b-{i}"), epoch, &format!("WireKept{i}"), "^ self");
            if i == 0 {
                first = Some(batch.clone());
            }
            c.apply(batch).await.expect("apply");
        }
        assert_eq!(vm_eval(&mut c, "HpAgent current journal size").await, "3");
        assert_eq!(
            vm_eval(&mut c, "HpAgent current appliedBatches size").await,
            "4"
        );
        // Three rollbacks undo the three newest batches; the fourth finds nothing, and says why.
        for i in (3..6).rev() {
            assert_eq!(
                c.rollback().await.expect("rollback").batch,
                format!("b-{i}")
            );
        }
        let err = c.rollback().await.expect_err("a fourth rollback");
        assert!(err.to_string().contains("journal_entries"), "{err}");
        assert_eq!(
            vm_eval(&mut c, "Smalltalk includesKey: #WireKept2").await,
            "true"
        );
        // The first batch's id is forgotten: sent again, it is stale, not applied twice.
        let err = c
            .apply(first.expect("the first batch"))
            .await
            .expect_err("a retried old batch");
        assert!(err.to_string().contains("stale"), "{err}");
        c.close().await;
    });
}

async fn vm_eval(c: &mut hotpatch::image::Client, expression: &str) -> String {
    c.eval(expression).await.expect(expression)
}
