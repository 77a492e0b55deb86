//! Raw socket helpers for frames and requests no well-behaved client would send.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("tcp connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Performs the opening handshake; answers the server's response head.
pub fn handshake(s: &mut TcpStream) -> String {
    let req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    s.write_all(req.as_bytes()).unwrap();
    read_head(s)
}

pub fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A masked client frame.
pub fn frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    frame_with(
        (if fin { 0x80 } else { 0 }) | opcode,
        payload,
        [0x12, 0x34, 0x56, 0x78],
    )
}

/// Reads one server frame: (opcode, payload). `None` when the connection closed.
pub fn read_frame(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).ok()?;
    let mut len = (h[1] & 0x7f) as u64;
    if len == 126 {
        let mut b = [0u8; 2];
        s.read_exact(&mut b).ok()?;
        len = u16::from_be_bytes(b) as u64;
    } else if len == 127 {
        let mut b = [0u8; 8];
        s.read_exact(&mut b).ok()?;
        len = u64::from_be_bytes(b);
    }
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).ok()?;
    Some((h[0] & 0x0f, payload))
}

pub fn text(s: &mut TcpStream, json: &str) {
    s.write_all(&frame(1, true, json.as_bytes())).unwrap();
}

pub fn answer(s: &mut TcpStream) -> serde_json::Value {
    loop {
        let (op, payload) = read_frame(s).expect("an answer frame");
        if op == 1 {
            return serde_json::from_slice(&payload).expect("answer is JSON");
        }
    }
}

/// Reads until the server closes; answers the close frame's code if one came.
pub fn close_code(s: &mut TcpStream) -> Option<u16> {
    while let Some((op, payload)) = read_frame(s) {
        if op == 8 {
            return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
    None
}

/// A masked client frame with the given mask and first byte's flags (`0x80` FIN, `0x70` the
/// reserved bits, the low 4 bits the opcode), the length in its shortest encoding.
pub fn frame_with(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut f = vec![first];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// One server frame as it came: its flags, how its length was encoded and its payload.
#[derive(Debug)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    /// 7, 16 or 64: the length field used.
    pub length_bits: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// Whether the length is in the one encoding RFC 6455 allows for it (the shortest).
    pub fn length_is_minimal(&self) -> bool {
        let n = self.payload.len();
        self.length_bits
            == if n < 126 {
                7
            } else if n < 65536 {
                16
            } else {
                64
            }
    }
}

/// Reads one server frame with its header; `None` when the connection closed.
pub fn read_frame_exact(s: &mut TcpStream) -> Option<Frame> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).ok()?;
    let (length_bits, len) = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).ok()?;
            (16, u16::from_be_bytes(b) as u64)
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).ok()?;
            (64, u64::from_be_bytes(b))
        }
        n => (7, n as u64),
    };
    let mut payload = vec![0u8; usize::try_from(len).ok()?];
    s.read_exact(&mut payload).ok()?;
    Some(Frame {
        fin: h[0] & 0x80 != 0,
        rsv: h[0] & 0x70,
        opcode: h[0] & 0x0f,
        masked: h[1] & 0x80 != 0,
        length_bits,
        payload,
    })
}

/// Handshake and a successful hello with `token`.
pub fn authenticated(port: u16, token: &str) -> TcpStream {
    let mut s = connect(port);
    handshake(&mut s);
    text(
        &mut s,
        &serde_json::json!({"id": 1, "cmd": "hello", "token": token, "protocol": 1, "client": "raw"})
            .to_string(),
    );
    let a = answer(&mut s);
    assert_eq!(a["ok"], true, "hello: {a}");
    s
}
