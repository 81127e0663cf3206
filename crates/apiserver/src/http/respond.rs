//! Responses: the body type (whole or streamed), JSON and `Status` responses.

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::{Response, StatusCode};
use std::pin::Pin;
use std::task::{Context, Poll};
use themelios_api::ApiError;
use tokio::sync::mpsc;

/// A response body: all at once, or a stream of chunks (a watch).
pub enum Body {
    /// The whole body.
    Full(Option<Bytes>),
    /// Chunks as they are produced; the stream ends when the sender is dropped.
    Stream(mpsc::Receiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match &mut *self {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(receiver) => receiver.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// The content type of every JSON response.
pub const JSON: &str = "application/json";

/// A response with a body and content type.
pub fn with_body(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Body::Full(Some(body.into())));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// A 200 JSON response whose body is the chunks `receiver` yields (a watch, a long list).
pub fn json_stream(receiver: mpsc::Receiver<Bytes>) -> Response<Body> {
    let mut response = Response::new(Body::Stream(receiver));
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(JSON));
    response
}

/// A JSON response.
pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    with_body(status, JSON, themelios_api::json::to_vec(value))
}

/// The `Status` object of an error, with its type meta (as a response body or a watch ERROR event).
pub fn status_value(error: &ApiError) -> serde_json::Value {
    let mut status = themelios_api::json::to_value(&error.to_status());
    if let Some(map) = status.as_object_mut() {
        map.insert("kind".into(), "Status".into());
        map.insert("apiVersion".into(), "v1".into());
    }
    status
}

/// The `Status` response for an error.
pub fn error(error: &ApiError) -> Response<Body> {
    let code = StatusCode::from_u16(error.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(code, &status_value(error))
}

/// A `Status` of success, as a delete that removed the object returns.
pub fn success(mut details: serde_json::Value) -> Response<Body> {
    // Upstream's StatusDetails omits empty fields (the core group's "").
    if let Some(fields) = details.as_object_mut() {
        fields.retain(|_, v| v.as_str() != Some(""));
    }
    json(
        StatusCode::OK,
        &serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
    )
}

/// 404 for a path the server does not serve, with upstream's message.
pub fn not_found_path() -> ApiError {
    ApiError::new(themelios_api::Reason::NotFound, "the server could not find the requested resource")
}
