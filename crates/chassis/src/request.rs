//! What functions read off an API Gateway (HTTP API, payload 2.0) request besides its body.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// Who is asking: the authorizer's subject when there is one, else the source address.
pub fn caller(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            let sub = ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).and_then(|j| j.claims.get("sub"));
            match sub {
                Some(sub) => format!("user:{sub}"),
                None => format!("ip:{}", ctx.http.source_ip.as_deref().unwrap_or("unknown")),
            }
        }
        _ => "ip:unknown".to_owned(),
    }
}

/// API Gateway's id of the request, carried downstream as the correlation id.
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
