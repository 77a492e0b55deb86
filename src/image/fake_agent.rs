//! A protocol-level fake agent for unit tests of the client and of the push flow: a WebSocket
//! server on loopback that answers each request with what the test's handler says. It shows how
//! hotpatch handles the wire (time-outs, closes, stale answers); what a real image does is tested
//! in `tests/` against the real VM.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, coding::CloseCode};

/// What the fake does with one request.
pub enum Reply {
    /// Send this JSON answer.
    Answer(Value),
    /// Send these messages in order (e.g. progress messages, then the answer).
    Messages(Vec<Value>),
    /// Send nothing (the client should time out).
    Silence,
    /// Drop the connection.
    Close,
    /// Send this answer in text fragments of at most this many bytes (continuation frames).
    Fragmented(Value, usize),
    /// Close the connection with this status code.
    CloseWith(u16),
}

/// An ok answer to `request` with `result`.
pub fn ok(request: &Value, result: Value) -> Reply {
    Reply::Answer(serde_json::json!({"id": request["id"], "ok": true, "result": result}))
}

/// An error answer to `request`.
pub fn error(request: &Value, error: Value) -> Reply {
    Reply::Answer(serde_json::json!({"id": request["id"], "ok": false, "error": error}))
}

/// Serves connections one after another until the test ends; answers its `ws://` url.
pub async fn serve<F>(mut handler: F) -> String
where
    F: FnMut(&Value) -> Reply + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the fake agent");
    let url = format!(
        "ws://{}/",
        listener.local_addr().expect("fake agent address")
    );
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                continue;
            };
            while let Some(Ok(Message::Text(text))) = ws.next().await {
                let request: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                match handler(&request) {
                    Reply::Answer(answer) => {
                        if ws.send(Message::text(answer.to_string())).await.is_err() {
                            break;
                        }
                    }
                    Reply::Messages(messages) => {
                        for m in messages {
                            if ws.send(Message::text(m.to_string())).await.is_err() {
                                break;
                            }
                        }
                    }
                    Reply::Silence => {}
                    Reply::Close => break,
                    Reply::Fragmented(answer, size) => {
                        let bytes = answer.to_string().into_bytes();
                        let pieces: Vec<&[u8]> = bytes.chunks(size.max(1)).collect();
                        for (i, piece) in pieces.iter().enumerate() {
                            let opcode = if i == 0 {
                                OpCode::Data(Data::Text)
                            } else {
                                OpCode::Data(Data::Continue)
                            };
                            let frame =
                                Frame::message(piece.to_vec(), opcode, i + 1 == pieces.len());
                            if ws.send(Message::Frame(frame)).await.is_err() {
                                break;
                            }
                        }
                    }
                    Reply::CloseWith(code) => {
                        let _ = ws
                            .close(Some(CloseFrame {
                                code: CloseCode::from(code),
                                reason: "from the fake".into(),
                            }))
                            .await;
                        break;
                    }
                }
            }
        }
    });
    url
}
