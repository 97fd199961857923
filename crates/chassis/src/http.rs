//! HTTP responses: JSON bodies and the one error shape.
//!
//! Every failure a client can see is an [`ApiError`]: a status, a stable snake_case `code` for
//! programs and a `message` for people. Handlers return `Ok(response)` for every outcome, because
//! an `Err` from a `lambda_http` handler becomes a bare 500/502 from API Gateway. Server errors
//! (5xx) are logged with their detail, and the client gets a generic message.

use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after_s: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), retry_after_s: None }
    }

    /// Adds a `Retry-After` header to the response.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds);
        self
    }

    /// 400: the request is malformed; `message` says how.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: the request has no verified caller. API Gateway's JWT authorizer refuses such
    /// requests first; this is the function's own check, in case a route lost its authorizer.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign in: send Authorization: Bearer <token>")
    }

    /// 403: the caller is known and may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 for a route this API does not have.
    pub fn route_not_found(method: &str, path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no route for {method} {path}"))
    }

    /// 405 for a known path with another method.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed on {path}"),
        )
    }

    /// 503: a dependency cannot serve now; the client may retry. `detail` goes to the log only.
    pub fn unavailable(
        code: &'static str,
        message: impl Into<String>,
        detail: impl std::fmt::Display,
    ) -> Self {
        tracing::warn!(code, detail = %detail, "service unavailable");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// 500: a bug. `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(detail = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    /// The response carrying this error's JSON body.
    pub fn into_response(self) -> Response<Body> {
        if self.status.is_client_error() {
            tracing::info!(status = self.status.as_u16(), code = self.code, message = %self.message, "request refused");
        }
        let body = ErrorBody { code: self.code, message: &self.message };
        let mut response = json_response(self.status, &body);
        if let Some(seconds) = self.retry_after_s {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// A JSON response. Serializing our own types cannot fail; if it ever did, the client gets the
/// 500 error body rather than a panic.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let (status, body) = match serde_json::to_vec(value) {
        Ok(bytes) => (status, bytes),
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            (StatusCode::INTERNAL_SERVER_ERROR, br#"{"code":"internal","message":"internal error"}"#.to_vec())
        }
    };
    let mut response = Response::new(Body::Binary(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    response
}

/// Runs an HTTP handler the way every function does:
/// - inside a span carrying the invocation's `requestId` and the request's `trace_id`
///   ([`crate::request::trace_id`]), so every log line of the request names both;
/// - answering with an `X-Trace-Id` header, so a client can quote it;
/// - then emitting its EMF records: requests by route and status, latency, and whatever the
///   adapters counted meanwhile ([`crate::metrics::count`]). The route is API Gateway's route
///   key (`GET /v1/guid/{id}`), so it stays low-cardinality.
pub async fn measured<F, Fut>(
    function: &'static str,
    req: Request,
    handler: F,
) -> Result<Response<Body>, Error>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, Error>>,
{
    use lambda_http::RequestExt;
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let route = crate::request::route_key(&req);
    let trace_id = crate::request::trace_id(&req);
    let invocation = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_default();
    let span = tracing::info_span!("request", requestId = %invocation, trace_id = %trace_id);
    let mut result = handler(req).instrument(span).await;
    let status = result.as_ref().map_or(500, |r| r.status().as_u16());
    if let (Ok(response), Ok(value)) = (result.as_mut(), header::HeaderValue::from_str(&trace_id)) {
        response.headers_mut().insert("x-trace-id", value);
    }
    crate::metrics::Record::new(function)
        .dimension("route", route)
        .dimension("status", status.to_string())
        .count("Requests", 1)
        .millis("Latency", started.elapsed().as_secs_f64() * 1_000.0)
        .property("trace_id", trace_id.as_str())
        .emit();
    crate::metrics::flush(function, &trace_id);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(r: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(r.body().as_ref()).unwrap()
    }

    #[test]
    fn error_body_shape_and_status() {
        let r = ApiError::bad_request("invalid_count", "count must be between 1 and 1000").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body_json(&r),
            serde_json::json!({"code": "invalid_count", "message": "count must be between 1 and 1000"})
        );
    }

    #[test]
    fn retry_after_header() {
        let r = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down")
            .with_retry_after(42)
            .into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "42");
    }

    #[tokio::test]
    #[allow(clippy::await_holding_lock)] // held on purpose: no other test may flush meanwhile
    async fn measured_answers_with_the_trace_id() {
        let _tally =
            crate::metrics::TALLY_TEST_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let mut req = Request::new(Body::Empty);
        req.headers_mut().insert("traceparent", format!("00-{id}-00f067aa0ba902b7-01").parse().unwrap());
        let r = measured("guid", req, |_| async { Ok(json_response(StatusCode::OK, &1)) }).await.unwrap();
        assert_eq!(r.headers()["x-trace-id"], id);
        let r = measured("guid", Request::new(Body::Empty), |_| async {
            Ok(ApiError::forbidden("not yours").into_response())
        })
        .await
        .unwrap();
        assert_eq!(
            (r.status(), r.headers()["x-trace-id"].to_str().unwrap()),
            (StatusCode::FORBIDDEN, "unknown")
        );
    }

    #[test]
    fn server_errors_hide_detail() {
        let r = ApiError::internal("table xyz exploded at 10.0.0.3").into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body_json(&r), serde_json::json!({"code": "internal", "message": "internal error"}));
        let r =
            ApiError::unavailable("no_worker_id", "no worker id is free", "secret detail").into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!String::from_utf8_lossy(r.body().as_ref()).contains("secret"));
    }
}
