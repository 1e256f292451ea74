//! The WebSocket gateway at `/api/v1/ws`.
//!
//! The handshake is refused (before any upgrade) without a live session or
//! from a foreign `Origin`. After it, the server sends `hello`, then, if the
//! client gave `?cursor=`, what changed since (from the database), then live
//! events. Each event is a JSON object with `type` and `cursor`. Clients send
//! `ping`, `typing` and `presence`. A socket that falls behind is closed with
//! 4008; one whose session ends, with 4001; all, with 1001 when the node stops.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use confab_core::id::{ChannelId, WorkspaceId};
use confab_core::realtime::{Envelope, Event, PresenceStatus};
use confab_core::{time, Error};
use confab_service::{ClientCommand, CloseReason, PresenceUpdate, Socket, SocketStep};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::error_detail;
use crate::extract::{check_origin, session_token, ApiQuery};
use crate::wire::{double_option, ChannelView, ErrorBody, FileView, MessageView};
use crate::{ApiError, AppState};

/// Largest message a client may send; a longer one closes the socket with
/// 1009.
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;
/// Largest message read at all. Messages between the two limits are read
/// whole so the 1009 close reaches the client (dropping a connection with
/// unread bytes resets it, losing the close frame); past this one the
/// connection is simply dropped.
const MAX_READ_MESSAGE: usize = 4 * MAX_CLIENT_MESSAGE;
/// Read buffer per socket. Clients send little, and the default (128 KiB)
/// would cost that much memory for every idle socket.
const READ_BUFFER: usize = 4 * 1024;
/// How often the server pings, and refreshes the connection and presence.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// A client silent for this long is gone.
const SILENCE_LIMIT: Duration = Duration::from_secs(90);
/// How often the session and memberships are re-read from the database, as a
/// safety net behind the events that change them.
const REFRESH: Duration = Duration::from_secs(120);
/// A send that takes longer than this marks a slow consumer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing socket waits for the client's answering close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Close code for a session that ended (revoked, expired, deactivated).
pub const CLOSE_SESSION_ENDED: u16 = 4001;
/// Close code for a socket that did not keep up with its events.
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
/// Close code when the node stops (reconnect, with the last cursor).
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code when what the socket may see could not be checked (reconnect
/// shortly, with the last cursor).
pub const CLOSE_TRY_AGAIN: u16 = 1013;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WsParams {
    /// Resume after this cursor (the last `cursor` the client saw).
    cursor: Option<String>,
    /// For clients that cannot set headers: the session token.
    access_token: Option<String>,
}

/// Open the real-time socket. Events are JSON objects with `type` and
/// `cursor`; see the README for the protocol. The origin and the session are
/// checked before the upgrade.
#[utoipa::path(get, path = "/ws", tag = "realtime", params(WsParams),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket handshake, or a bad cursor", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "A foreign origin", body = ErrorBody),
        (status = 429, description = "Too many sockets for this user", body = ErrorBody)))]
pub async fn upgrade(
    State(app): State<AppState>,
    ApiQuery(params): ApiQuery<WsParams>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    check_origin(&headers, app.options.public_url.as_deref())?;
    let token = session_token(&headers)
        .or(params.access_token)
        .ok_or(Error::Unauthenticated)?;
    let caller = app.authenticate(&token).await?;
    app.hub.admit(&app, &caller).await?;
    let cursor = params
        .cursor
        .map(|c| {
            c.parse::<i64>()
                .ok()
                .filter(|c| *c > 0)
                .ok_or_else(|| Error::invalid("cursor", "is not a cursor this server handed out"))
        })
        .transpose()?;
    let upgrade = upgrade.map_err(|rejection| {
        Error::invalid(
            "upgrade",
            format!(
                "open this with a WebSocket client: {}",
                rejection.body_text()
            ),
        )
    })?;
    let response = upgrade
        .read_buffer_size(READ_BUFFER)
        .max_message_size(MAX_READ_MESSAGE)
        .max_frame_size(MAX_READ_MESSAGE)
        .on_upgrade(move |ws| async move {
            match Socket::open(&app, &app.hub, caller, token).await {
                Ok(socket) => serve(socket, cursor, ws).await,
                Err(err) => tracing::warn!(error = %err, "opening a socket failed"),
            }
        });
    Ok(response.into_response())
}

/// Run one socket until it closes.
async fn serve(mut socket: Socket, resume: Option<i64>, ws: WebSocket) {
    let (mut sink, mut incoming) = ws.split();
    let mut cursor = time::now().timestamp_micros();
    if send_json(&mut sink, &hello(&socket, cursor)).await.is_err() {
        socket.close().await;
        return;
    }
    if let Some(resume) = resume {
        let replayed = socket.replay(resume).await;
        if deliver(&mut sink, replayed, &mut cursor).await.is_err() {
            socket.close().await;
            return;
        }
    }
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.tick().await;
    let mut last_heard = tokio::time::Instant::now();
    let close = loop {
        tokio::select! {
            delivery = socket.recv() => {
                let started = tokio::time::Instant::now();
                let steps = socket.process(delivery, cursor).await;
                // Time spent waiting for a catch-up turn is not the
                // client's silence.
                last_heard += started.elapsed();
                match deliver(&mut sink, steps, &mut cursor).await {
                    Ok(()) => {}
                    Err(reason) => break Some(close_of(reason)),
                }
            }
            message = incoming.next() => {
                last_heard = tokio::time::Instant::now();
                match message {
                    Some(Ok(WsMessage::Text(text))) if text.len() > MAX_CLIENT_MESSAGE => {
                        break Some(TOO_BIG);
                    }
                    Some(Ok(WsMessage::Binary(bytes))) if bytes.len() > MAX_CLIENT_MESSAGE => {
                        break Some(TOO_BIG);
                    }
                    Some(Ok(WsMessage::Text(text))) => {
                        let answer = answer(&socket, text.as_str()).await;
                        if let Some(answer) = answer {
                            if send_json(&mut sink, &answer).await.is_err() {
                                break None;
                            }
                        }
                    }
                    Some(Ok(WsMessage::Binary(_))) => {
                        let error = error_json(&Error::invalid("message", "send JSON text frames"));
                        if send_json(&mut sink, &error).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break None,
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    break None;
                }
                socket.alive().await;
                if timed_send(&mut sink, WsMessage::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
            _ = refresh.tick() => {
                let steps = match socket.refresh(cursor).await {
                    Ok(steps) => steps,
                    Err(reason) => break Some(close_of(reason)),
                };
                if let Err(reason) = deliver(&mut sink, steps, &mut cursor).await {
                    break Some(close_of(reason));
                }
            }
        }
    };
    if let Some((code, text)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(text),
        };
        if timed_send(&mut sink, WsMessage::Close(Some(frame)))
            .await
            .is_ok()
        {
            // The closing handshake: read what the client still sends until
            // it answers the close. Dropping a connection with unread bytes
            // resets it, and the reset would discard the close frame.
            let answered = async { while incoming.next().await.is_some() {} };
            let _ = tokio::time::timeout(CLOSE_WAIT, answered).await;
        }
    }
    socket.close().await;
}

/// A close frame's code and reason.
type Close = (u16, &'static str);

/// A client message over [`MAX_CLIENT_MESSAGE`] (RFC 6455: 1009).
const TOO_BIG: Close = (1009, "message too big");

fn close_of(reason: CloseReason) -> Close {
    match reason {
        CloseReason::SessionEnded => (CLOSE_SESSION_ENDED, "session ended"),
        CloseReason::SlowConsumer => (CLOSE_SLOW_CONSUMER, "slow consumer"),
        CloseReason::GoingAway => (CLOSE_GOING_AWAY, "server shutting down"),
        CloseReason::Unavailable => (CLOSE_TRY_AGAIN, "try again later"),
    }
}

type Sink = futures_util::stream::SplitSink<WebSocket, WsMessage>;

/// Send what the socket decided, keeping the cursor; a close ends the loop.
async fn deliver(
    sink: &mut Sink,
    steps: Vec<SocketStep>,
    cursor: &mut i64,
) -> Result<(), CloseReason> {
    for step in steps {
        match step {
            SocketStep::Send(outgoing) => {
                *cursor = (*cursor).max(outgoing.cursor);
                let text = outgoing.wire(|envelope| to_wire(envelope).to_string());
                timed_send(sink, WsMessage::Text(text.into()))
                    .await
                    .map_err(|_| CloseReason::SlowConsumer)?;
            }
            SocketStep::Close(reason) => return Err(reason),
        }
    }
    Ok(())
}

async fn timed_send(sink: &mut Sink, message: WsMessage) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn send_json(sink: &mut Sink, value: &Value) -> Result<(), ()> {
    timed_send(sink, WsMessage::Text(value.to_string().into())).await
}

fn hello(socket: &Socket, cursor: i64) -> Value {
    let subscriptions = socket.subscriptions();
    let workspaces: Vec<WorkspaceId> = subscriptions.workspaces.keys().copied().collect();
    let channels: Vec<ChannelId> = subscriptions.channels.iter().copied().collect();
    json!({
        "type": "hello",
        "cursor": cursor.to_string(),
        "connection_id": socket.connection_id(),
        "user_id": socket.user_id(),
        "workspaces": workspaces,
        "channels": channels,
    })
}

/// An event as clients see it: messages and channels in their REST shape.
pub fn to_wire(envelope: &Envelope) -> Value {
    let mut value = serde_json::to_value(&envelope.event).unwrap_or_else(|_| json!({}));
    match &envelope.event {
        Event::MessageCreated { message }
        | Event::MessageEdited { message }
        | Event::MessageUpdated { message }
        | Event::ThreadReply { message, .. } => {
            value["message"] = json!(MessageView::from(message.clone()));
        }
        Event::ChannelCreated { channel }
        | Event::ChannelUpdated { channel }
        | Event::ChannelArchived { channel }
        | Event::ChannelUnarchived { channel } => {
            value["channel"] = json!(ChannelView::from(channel.clone()));
        }
        Event::FileShared { file, .. } | Event::FileProcessed { file } => {
            value["file"] = json!(FileView::from(file.clone()));
        }
        _ => {}
    }
    value["cursor"] = json!(envelope.cursor.to_string());
    value
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Ping,
    Typing {
        channel_id: ChannelId,
    },
    Presence {
        workspace_id: WorkspaceId,
        status: Option<PresenceStatus>,
        #[serde(default, deserialize_with = "double_option")]
        custom_status: Option<Option<String>>,
    },
}

/// Carry out a client message; the answer to send back, if any.
async fn answer(socket: &Socket, text: &str) -> Option<Value> {
    let message: ClientMessage = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(err) => return Some(error_json(&Error::invalid("message", err.to_string()))),
    };
    let (command, reply) = match message {
        ClientMessage::Ping => (ClientCommand::Ping, Some(json!({"type": "pong"}))),
        ClientMessage::Typing { channel_id } => (ClientCommand::Typing { channel_id }, None),
        ClientMessage::Presence {
            workspace_id,
            status,
            custom_status,
        } => (
            ClientCommand::Presence {
                workspace_id,
                update: PresenceUpdate {
                    status,
                    custom_status,
                },
            },
            None,
        ),
    };
    match socket.command(command).await {
        Ok(()) => reply,
        Err(err) => Some(error_json(&err)),
    }
}

fn error_json(err: &Error) -> Value {
    let message = match err {
        Error::Internal(_) | Error::Unavailable(_) => {
            tracing::error!(error = %err, "socket command failed");
            "the server could not do this; try again".to_owned()
        }
        other => other.to_string(),
    };
    json!({"type": "error", "error": error_detail(err, message)})
}
