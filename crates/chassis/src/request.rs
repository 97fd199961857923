//! What functions read off an API Gateway (HTTP API, payload 2.0) request besides its body.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// The signed-in caller: the `sub` claim of the token API Gateway's JWT authorizer verified.
/// Clients cannot set it: API Gateway writes the request context after checking the token.
pub fn subject(req: &Request) -> Option<&str> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|j| j.claims.get("sub"))
            .map(String::as_str)
            .filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// Who is asking: the authorizer's subject when there is one, else the source address.
pub fn caller(req: &Request) -> String {
    if let Some(sub) = subject(req) {
        return format!("user:{sub}");
    }
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            format!("ip:{}", ctx.http.source_ip.as_deref().unwrap_or("unknown"))
        }
        _ => "ip:unknown".to_owned(),
    }
}

/// The id that follows this request everywhere it goes (logs, the queue message, the drain,
/// the dead-letter handler): the trace id of a valid W3C `traceparent` header when the client
/// sent one, so a post joins the client's own trace; else API Gateway's request id.
pub fn trace_id(req: &Request) -> String {
    req.headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(traceparent_id)
        .map(str::to_owned)
        .or_else(|| request_id(req))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The trace id of `00-<32 hex>-<16 hex>-<2 hex>`, unless it is all zeros (invalid per spec).
fn traceparent_id(header: &str) -> Option<&str> {
    let mut parts = header.trim().split('-');
    let (version, id, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let ok = hex(version, 2) && version != "ff" && hex(id, 32) && hex(parent, 16) && hex(flags, 2);
    (ok && id.bytes().any(|b| b != b'0')).then_some(id)
}

/// API Gateway's id of the request.
pub fn request_id(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
}

/// API Gateway's route key (`GET /v1/guid/{id}`, `$default`), or `unknown`.
pub fn route_key(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.clone().unwrap_or_else(|| "unknown".into()),
        _ => "unknown".to_owned(),
    }
}

/// The invocation's X-Ray trace header, when tracing is on.
pub fn xray_trace_id(req: &Request) -> Option<String> {
    req.lambda_context_ref().and_then(|c| c.xray_trace_id.clone()).filter(|t| !t.is_empty())
}

/// The path split into its segments, without empty ones (`/v1/guid/` -> `["v1", "guid"]`).
pub fn segments(req: &Request) -> Vec<&str> {
    req.uri().path().split('/').filter(|s| !s.is_empty()).collect()
}

/// The first value of a query parameter.
pub fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref().and_then(|p| p.first(name))
}

#[cfg(test)]
mod tests {
    use super::traceparent_id;

    #[test]
    fn traceparent_ids() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(traceparent_id(&format!("00-{id}-00f067aa0ba902b7-01")), Some(id));
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_owned(),
            format!("00-{}-00f067aa0ba902b7-01", id.to_uppercase()),
            format!("00-{id}-00f067aa0ba902b7"),
            format!("ff-{id}-00f067aa0ba902b7-01"),
            format!("00-{id}x-00f067aa0ba902b7-01"),
            String::new(),
        ] {
            assert_eq!(traceparent_id(&bad), None, "{bad}");
        }
    }
}
