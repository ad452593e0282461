//! The axum glue: routes, delays, streaming and the request log. Everything a response says
//! comes from [`crate::decide`] and the encoders in [`crate::wire`].

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::conversation::Conversation;
use crate::decide::{decide, Action, Decision};
use crate::request_log::{now_ms, LogRecord, RequestLog};
use crate::script::{Pacing, Script};
use crate::wire::{anthropic, chat, estimate_tokens, gemini, responses, Api, SseEvent};
use crate::wire::{Turn, TurnContent, Usage};

/// Serves `script` on `listener` until the task is dropped, appending to the `log` file (one
/// JSON line per request) when given.
pub async fn serve(
    listener: tokio::net::TcpListener,
    script: Script,
    log: Option<PathBuf>,
) -> std::io::Result<()> {
    let log = log.map(|path| RequestLog::open(&path)).transpose()?;
    axum::serve(listener, router(script, log)).await
}

struct Shared {
    script: Script,
    log: Option<RequestLog>,
    next_id: AtomicU64,
}

impl Shared {
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

fn router(script: Script, log: Option<RequestLog>) -> Router {
    let shared = Arc::new(Shared {
        script,
        log,
        next_id: AtomicU64::new(0),
    });
    Router::new()
        .route("/", get(root))
        .route("/v1/messages", post(anthropic_messages))
        .route("/v1/messages/count_tokens", post(anthropic_count_tokens))
        .route("/v1/responses", post(openai_responses))
        .route("/responses", post(openai_responses))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/chat/completions", post(chat_completions))
        .route("/v1/models", get(model_list))
        .route("/models", get(model_list))
        .route("/v1beta/models", get(gemini_model_list))
        .route("/v1beta/models/{*rest}", post(gemini_models).get(one_model))
        .route("/v1/models/{*rest}", post(gemini_models).get(one_model))
        .fallback(not_found)
        // Agent CLIs send their whole conversation and tool schemas every turn.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

type SharedState = State<Arc<Shared>>;

/// The API's own shape of a request error (a body that is not JSON).
fn error_body(api: Api, status: u16, message: &str) -> Value {
    match api {
        Api::Anthropic => anthropic::encode_error(status, message),
        Api::Gemini => gemini::encode_error(status, message),
        Api::Responses | Api::Chat | Api::Other => responses::encode_error(status, message),
    }
}

/// How a model API encodes a turn.
#[derive(Debug, Clone, Copy)]
enum Dialect {
    Anthropic,
    Responses,
    Chat { include_usage: bool },
    Gemini { sse: bool },
}

impl Dialect {
    fn api(self) -> Api {
        match self {
            Dialect::Anthropic => Api::Anthropic,
            Dialect::Responses => Api::Responses,
            Dialect::Chat { .. } => Api::Chat,
            Dialect::Gemini { .. } => Api::Gemini,
        }
    }

    fn response_id(self, id: u64) -> String {
        match self {
            Dialect::Anthropic => format!("msg_mock_{id:08}"),
            Dialect::Responses => format!("resp_mock_{id:08}"),
            Dialect::Chat { .. } => format!("chatcmpl-mock-{id:08}"),
            Dialect::Gemini { .. } => format!("mock-{id:08}"),
        }
    }

    fn call_id(self, id: u64) -> String {
        match self {
            Dialect::Anthropic => format!("toolu_mock_{id:08}"),
            _ => format!("call_mock_{id:08}"),
        }
    }

    fn encode_json(self, turn: &Turn) -> Value {
        match self {
            Dialect::Anthropic => anthropic::encode_json(turn),
            Dialect::Responses => responses::encode_json(turn),
            Dialect::Chat { .. } => chat::encode_json(turn),
            Dialect::Gemini { .. } => gemini::encode_json(turn),
        }
    }

    /// The streamed body's frames, each with the wait before it, and its content type: SSE
    /// events, or Gemini's JSON array when `alt=sse` was not asked for.
    fn stream_frames(self, turn: &Turn, pacing: Pacing) -> (Vec<(Duration, String)>, &'static str) {
        let events = match self {
            Dialect::Anthropic => anthropic::encode_stream(turn),
            Dialect::Responses => responses::encode_stream(turn),
            Dialect::Chat { include_usage } => chat::encode_stream(turn, include_usage),
            Dialect::Gemini { sse: true } => gemini::encode_stream(turn),
            Dialect::Gemini { sse: false } => {
                let array = Value::Array(gemini::stream_objects(turn));
                return (vec![(Duration::ZERO, array.to_string())], JSON);
            }
        };
        (paced_frames(&events, pacing), EVENT_STREAM)
    }
}

const EVENT_STREAM: &str = "text/event-stream";
const JSON: &str = "application/json";

/// Parses a request body as JSON, or answers with the API's error.
fn read_json(
    body: &Bytes,
    api: Api,
    mut record: LogRecord,
    shared: &Arc<Shared>,
) -> Result<Value, Box<Response>> {
    tracing::trace!(target: "cao_mock_model::body", path = %record.path, body = %String::from_utf8_lossy(body));
    serde_json::from_slice(body).map_err(|error| {
        let message = format!("the request body is not JSON: {error}");
        record.action = "error";
        record.status = 400;
        Box::new(respond_at_once(
            shared,
            record,
            StatusCode::BAD_REQUEST,
            JSON,
            error_body(api, 400, &message).to_string(),
        ))
    })
}

/// Answers one model request: decide, wait, encode, stream.
async fn answer(
    shared: Arc<Shared>,
    dialect: Dialect,
    mut record: LogRecord,
    conversation: Conversation,
    body_len: usize,
) -> Response {
    let decision = decide(&shared.script, &conversation);
    tracing::debug!(api = dialect.api().as_str(), input = %conversation.latest_user_text, ?decision, "request");
    let Decision {
        rule,
        action,
        pacing,
        note,
    } = decision;
    record.model = conversation.model.clone();
    record.stream = conversation.stream;
    record.input = Some(conversation.latest_user_text.clone());
    record.rule = match rule {
        Some(rule) => rule.name.map_or(Value::from(rule.index), Value::from),
        None => Value::Null,
    };
    record.note = note;
    if !pacing.first_byte_delay.is_zero() {
        tokio::time::sleep(pacing.first_byte_delay).await;
    }
    let id = shared.next_id();
    let content = match action {
        Action::Error { status, message } => {
            record.action = "error";
            record.status = status;
            let status_code =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = error_body(dialect.api(), status, &message).to_string();
            return respond_at_once(&shared, record, status_code, JSON, body);
        }
        Action::Reply { text } => {
            record.action = "reply";
            TurnContent::text(&text, pacing.chunk_chars)
        }
        Action::StructuredOutput { json } => {
            record.action = "router";
            TurnContent::text(&json, 0)
        }
        Action::ToolCall(call) => {
            record.action = "tool_call";
            record.tool = Some(call.full_name());
            TurnContent::ToolCall {
                call_id: dialect.call_id(id),
                call,
            }
        }
    };
    let output_chars = match &content {
        TurnContent::Text { chunks } => chunks.iter().map(|chunk| chunk.chars().count()).sum(),
        TurnContent::ToolCall { call, .. } => call.arguments.to_string().len(),
    };
    let turn = Turn {
        response_id: dialect.response_id(id),
        model: conversation
            .model
            .unwrap_or_else(|| shared.script.model.clone()),
        content,
        usage: Usage {
            input_tokens: estimate_tokens(body_len),
            output_tokens: estimate_tokens(output_chars),
        },
    };
    if conversation.stream {
        let (frames, content_type) = dialect.stream_frames(&turn, pacing);
        respond(shared, record, StatusCode::OK, content_type, frames)
    } else {
        respond_at_once(
            &shared,
            record,
            StatusCode::OK,
            JSON,
            dialect.encode_json(&turn).to_string(),
        )
    }
}

/// The wire text of `events`, each with the wait before it: the chunk delay before every
/// paced event but the first.
fn paced_frames(events: &[SseEvent], pacing: Pacing) -> Vec<(Duration, String)> {
    let mut seen_paced = false;
    events
        .iter()
        .map(|event| {
            let delay = if event.paced && seen_paced {
                pacing.chunk_delay
            } else {
                Duration::ZERO
            };
            seen_paced |= event.paced;
            (delay, event.to_wire())
        })
        .collect()
}

fn respond_at_once(
    shared: &Arc<Shared>,
    record: LogRecord,
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response {
    respond(
        shared.clone(),
        record,
        status,
        content_type,
        vec![(Duration::ZERO, body)],
    )
}

/// Sends `frames` with their delays; the request is logged once the last one is handed over
/// (or the client has gone).
fn respond(
    shared: Arc<Shared>,
    record: LogRecord,
    status: StatusCode,
    content_type: &'static str,
    frames: Vec<(Duration, String)>,
) -> Response {
    let mut record = record;
    record.status = status.as_u16();
    let sending = Sending {
        frames: frames.into(),
        _logged_when_dropped: LogOnDrop {
            shared,
            record: Some(record),
        },
    };
    let stream = futures_util::stream::unfold(sending, |mut sending| async move {
        let (delay, frame) = sending.frames.pop_front()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((Ok::<_, Infallible>(Bytes::from(frame)), sending))
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if content_type == EVENT_STREAM {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}

struct Sending {
    frames: VecDeque<(Duration, String)>,
    /// Dropped with the body: after its last frame, or when the client goes away.
    _logged_when_dropped: LogOnDrop,
}

/// Writes the request's log line when the response body is done with (sent or abandoned).
struct LogOnDrop {
    shared: Arc<Shared>,
    record: Option<LogRecord>,
}

impl Drop for LogOnDrop {
    fn drop(&mut self) {
        if let (Some(log), Some(mut record)) = (&self.shared.log, self.record.take()) {
            record.finished_ms = now_ms();
            log.append(&record);
        }
    }
}

async fn root(State(shared): SharedState, method: Method, uri: Uri) -> Response {
    let record = LogRecord::started(Api::Other.as_str(), method.as_str(), uri.path());
    respond_at_once(
        &shared,
        record,
        StatusCode::OK,
        "text/plain; charset=utf-8",
        "cao mock-model\n".into(),
    )
}

async fn not_found(State(shared): SharedState, method: Method, uri: Uri) -> Response {
    let record = LogRecord::started(Api::Other.as_str(), method.as_str(), uri.path());
    tracing::debug!(%method, %uri, "no such endpoint");
    let message = format!("cao mock-model has no endpoint {method} {}", uri.path());
    respond_at_once(
        &shared,
        record,
        StatusCode::NOT_FOUND,
        JSON,
        responses::encode_error(404, &message).to_string(),
    )
}

async fn model_list(State(shared): SharedState, method: Method, uri: Uri) -> Response {
    let record = LogRecord::started(Api::Other.as_str(), method.as_str(), uri.path());
    let body = chat::encode_model_list(&[shared.script.model.as_str()]).to_string();
    respond_at_once(&shared, record, StatusCode::OK, JSON, body)
}

async fn gemini_model_list(State(shared): SharedState, method: Method, uri: Uri) -> Response {
    let record = LogRecord::started(Api::Gemini.as_str(), method.as_str(), uri.path());
    let body = gemini::encode_model_list(&[shared.script.model.as_str()]).to_string();
    respond_at_once(&shared, record, StatusCode::OK, JSON, body)
}

/// `GET /v1/models/{id}`: any model exists.
async fn one_model(
    State(shared): SharedState,
    Path(model): Path<String>,
    method: Method,
    uri: Uri,
) -> Response {
    let record = LogRecord::started(Api::Other.as_str(), method.as_str(), uri.path());
    let body = json!({
        "id": model,
        "object": "model",
        "type": "model",
        "display_name": model,
        "name": format!("models/{model}"),
        "owned_by": "cao-mock-model",
    });
    respond_at_once(&shared, record, StatusCode::OK, JSON, body.to_string())
}

async fn anthropic_messages(
    State(shared): SharedState,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let record = LogRecord::started(Api::Anthropic.as_str(), method.as_str(), uri.path());
    let request = match read_json(&body, Api::Anthropic, record.clone(), &shared) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let conversation = anthropic::parse(&request);
    answer(shared, Dialect::Anthropic, record, conversation, body.len()).await
}

async fn anthropic_count_tokens(
    State(shared): SharedState,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut record = LogRecord::started(Api::Anthropic.as_str(), method.as_str(), uri.path());
    record.action = "count_tokens";
    if let Ok(request) = serde_json::from_slice::<Value>(&body) {
        record.model = request
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    let reply = anthropic::encode_token_count(estimate_tokens(body.len())).to_string();
    respond_at_once(&shared, record, StatusCode::OK, JSON, reply)
}

async fn openai_responses(
    State(shared): SharedState,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let record = LogRecord::started(Api::Responses.as_str(), method.as_str(), uri.path());
    let request = match read_json(&body, Api::Responses, record.clone(), &shared) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let conversation = responses::parse(&request);
    answer(shared, Dialect::Responses, record, conversation, body.len()).await
}

async fn chat_completions(
    State(shared): SharedState,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let record = LogRecord::started(Api::Chat.as_str(), method.as_str(), uri.path());
    let request = match read_json(&body, Api::Chat, record.clone(), &shared) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let conversation = chat::parse(&request);
    let dialect = Dialect::Chat {
        include_usage: chat::wants_usage(&request),
    };
    answer(shared, dialect, record, conversation, body.len()).await
}

#[derive(Debug, serde::Deserialize)]
struct GeminiQuery {
    alt: Option<String>,
}

/// `POST /v1beta/models/{model}:{verb}`: axum cannot route on `{model}:verb`, so the rest of
/// the path is split here.
async fn gemini_models(
    State(shared): SharedState,
    Path(rest): Path<String>,
    Query(query): Query<GeminiQuery>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut record = LogRecord::started(Api::Gemini.as_str(), method.as_str(), uri.path());
    let Some((model, verb)) = gemini::split_model_path(&rest) else {
        record.status = 404;
        let message = format!("cao mock-model does not speak {rest}: use generateContent, streamGenerateContent or countTokens");
        return respond_at_once(
            &shared,
            record,
            StatusCode::NOT_FOUND,
            JSON,
            gemini::encode_error(404, &message).to_string(),
        );
    };
    record.model = Some(model.to_owned());
    if verb == gemini::Verb::CountTokens {
        record.action = "count_tokens";
        let reply = gemini::encode_token_count(estimate_tokens(body.len())).to_string();
        return respond_at_once(&shared, record, StatusCode::OK, JSON, reply);
    }
    let request = match read_json(&body, Api::Gemini, record.clone(), &shared) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let conversation = gemini::parse(&request, model, verb);
    let dialect = Dialect::Gemini {
        sse: query.alt.as_deref() == Some("sse"),
    };
    answer(shared, dialect, record, conversation, body.len()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paced_events_after_the_first_wait() {
        let events = [
            SseEvent::data("start"),
            SseEvent::data("a").paced(),
            SseEvent::data("b").paced(),
            SseEvent::data("c").paced(),
            SseEvent::data("stop"),
        ];
        let pacing = Pacing {
            chunk_delay: Duration::from_millis(7),
            ..Pacing::default()
        };
        let delays: Vec<u64> = paced_frames(&events, pacing)
            .iter()
            .map(|(delay, _)| delay.as_millis() as u64)
            .collect();
        assert_eq!(delays, [0, 0, 7, 7, 0]);
    }

    #[test]
    fn request_errors_use_the_api_shape() {
        assert_eq!(error_body(Api::Anthropic, 400, "x")["type"], "error");
        assert_eq!(
            error_body(Api::Gemini, 400, "x")["error"]["status"],
            "INVALID_ARGUMENT"
        );
        assert_eq!(error_body(Api::Chat, 400, "x")["error"]["message"], "x");
    }

    #[test]
    fn ids_carry_the_api_prefix() {
        assert_eq!(Dialect::Anthropic.call_id(3), "toolu_mock_00000003");
        assert_eq!(
            Dialect::Chat {
                include_usage: false
            }
            .response_id(12),
            "chatcmpl-mock-00000012"
        );
    }
}
