//! The HTTP API's contract: every answer the integration tests see is checked against
//! `openapi.yaml` at the workspace root, so the document cannot drift from the code unnoticed.
//!
//! [`check`] finds the documented operation for a method and a path (path templates such as
//! `/v1/users/{user_id}/posts`, the most literal match winning), the documented response for the
//! status (exact code, then `4XX`-style ranges, then `default`), and validates the body against
//! its `application/json` schema as JSON Schema 2020-12, `$ref`s into `#/components/...`
//! resolved inside the document (nothing is fetched). An undocumented route, method or status is
//! a mismatch too: the document has to describe every answer, not just the happy ones.
//!
//! The document is read and every response schema compiled once per test binary.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const BODY_PREFIX_BYTES: usize = 300;
const MAX_REPORTED_ERRORS: usize = 5;
const MAX_MESSAGE_CHARS: usize = 160;

/// Checks one answer against the contract. `path` is the path below the API's base URL
/// (`/v1/users/abc/posts`, a query string is ignored); `content_type` is the response's header.
///
/// # Errors
///
/// A readable mismatch: the request, the documented route, what failed and the start of the
/// body; also when the route, method or status is not documented, or `openapi.yaml` is unusable.
pub fn check(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let contract = contract()?;
    contract.check(method, path, status, content_type, body).map_err(|what| {
        format!("contract: {} {path} -> {status}: {what}; body: {}", method.to_uppercase(), prefix(body))
    })
}

fn contract() -> Result<&'static Contract, String> {
    static CONTRACT: OnceLock<Result<Contract, String>> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::load(SPEC_PATH)).as_ref().map_err(Clone::clone)
}

struct Contract {
    operations: Vec<Operation>,
}

struct Operation {
    template: String,
    segments: Vec<Segment>,
    method: String,
    /// By status key as written in the document: `"201"`, `"4XX"`, `"default"`.
    responses: HashMap<String, DocumentedResponse>,
}

enum Segment {
    Literal(String),
    Param,
}

struct DocumentedResponse {
    /// Media types (without parameters) the response may have; empty: no body.
    media_types: Vec<String>,
    json_schema: Option<jsonschema::Validator>,
}

impl Contract {
    fn load(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("contract: cannot read {path}: {e}"))?;
        let doc: Value =
            yaml_serde::from_str(&text).map_err(|e| format!("contract: {path} is not valid YAML: {e}"))?;
        Self::from_document(&doc).map_err(|e| format!("contract: {path}: {e}"))
    }

    fn from_document(doc: &Value) -> Result<Self, String> {
        let paths = doc.get("paths").and_then(Value::as_object).ok_or("no `paths` object")?;
        let components = doc.get("components").cloned().unwrap_or(Value::Null);
        let mut operations = Vec::new();
        for (template, item) in paths {
            let item = resolve(doc, item)?;
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let responses = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .ok_or_else(|| format!("{method} {template} has no responses"))?;
                let mut documented = HashMap::new();
                for (status, response) in responses {
                    let response = resolve(doc, response)?;
                    let compiled = DocumentedResponse::compile(response, &components)
                        .map_err(|e| format!("{method} {template} -> {status}: {e}"))?;
                    documented.insert(status.clone(), compiled);
                }
                operations.push(Operation {
                    template: template.clone(),
                    segments: parse_template(template),
                    method: method.to_owned(),
                    responses: documented,
                });
            }
        }
        if operations.is_empty() {
            return Err("documents no operation".to_owned());
        }
        Ok(Self { operations })
    }

    fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), String> {
        let op = self.operation(method, path)?;
        let code = status.to_string();
        let range = format!("{}XX", status / 100);
        let response = [code.as_str(), range.as_str(), "default"]
            .iter()
            .find_map(|key| op.responses.get(*key))
            .ok_or_else(|| {
                let mut known: Vec<&str> = op.responses.keys().map(String::as_str).collect();
                known.sort_unstable();
                format!(
                    "status {status} is not documented for {} (documented: {})",
                    op.label(),
                    known.join(", ")
                )
            })?;
        response.check(content_type, body).map_err(|what| format!("{}: {what}", op.label()))
    }

    fn operation(&self, method: &str, path: &str) -> Result<&Operation, String> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut matching: Vec<&Operation> =
            self.operations.iter().filter(|op| op.matches(&segments)).collect();
        if matching.is_empty() {
            return Err("no documented route matches this path".to_owned());
        }
        // `/v1/guid/{id}` and a literal sibling would both match; the more literal one is meant.
        let most_literal = matching.iter().map(|op| op.literals()).max().unwrap_or_default();
        matching.retain(|op| op.literals() == most_literal);
        let method = method.to_lowercase();
        if let Some(op) = matching.iter().find(|op| op.method == method) {
            return Ok(op);
        }
        let mut documented: Vec<String> = matching.iter().map(|op| op.label()).collect();
        documented.sort_unstable();
        Err(format!("method not documented for this path (documented: {})", documented.join(", ")))
    }
}

impl Operation {
    fn matches(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self.segments.iter().zip(segments).all(|(want, got)| match want {
                Segment::Literal(l) => l == got,
                Segment::Param => !got.is_empty(),
            })
    }

    fn literals(&self) -> usize {
        self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count()
    }

    fn label(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.template)
    }
}

impl DocumentedResponse {
    fn compile(response: &Value, components: &Value) -> Result<Self, String> {
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return Ok(Self { media_types: Vec::new(), json_schema: None });
        };
        let media_types = content.keys().map(|k| essence(k)).collect();
        let json_schema = match content.get("application/json").and_then(|m| m.get("schema")) {
            None => None,
            Some(schema) => {
                // The schema's refs point into the whole document (`#/components/schemas/Post`),
                // so it is validated inside a root that carries the components; `allOf` keeps
                // boolean schemas and `$ref` siblings working unchanged.
                let root = serde_json::json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "components": components,
                    "allOf": [schema],
                });
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .map_err(|e| format!("schema does not compile: {e}"))?;
                Some(validator)
            }
        };
        Ok(Self { media_types, json_schema })
    }

    fn check(&self, content_type: Option<&str>, body: &[u8]) -> Result<(), String> {
        if self.media_types.is_empty() {
            return if body.is_empty() {
                Ok(())
            } else {
                Err(format!("documented without a body, got {} bytes", body.len()))
            };
        }
        let actual = content_type
            .map(essence)
            .ok_or_else(|| format!("no Content-Type header (documented: {})", self.media_types.join(", ")))?;
        if !self.media_types.contains(&actual) {
            return Err(format!(
                "Content-Type {actual:?} is not documented (documented: {})",
                self.media_types.join(", ")
            ));
        }
        let Some(validator) = self.json_schema.as_ref().filter(|_| actual == "application/json") else {
            return Ok(());
        };
        let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
        let problems: Vec<String> =
            validator.iter_errors(&value).take(MAX_REPORTED_ERRORS).map(|e| describe(&e, 0)).collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("the body does not match the documented schema: {}", problems.join("; ")))
        }
    }
}

/// One schema violation: where, what (the offending value cut short), and for `anyOf`/`oneOf`
/// why each alternative failed, since "valid under none of the schemas" alone tells nothing.
fn describe(e: &jsonschema::ValidationError<'_>, depth: usize) -> String {
    let at = e.instance_path().to_string();
    let message: String = e.to_string().chars().take(MAX_MESSAGE_CHARS).collect();
    let out = format!("at {}: {message}", if at.is_empty() { "/" } else { at.as_str() });
    let branches = match e.kind() {
        jsonschema::error::ValidationErrorKind::AnyOf { context }
        | jsonschema::error::ValidationErrorKind::OneOfNotValid { context } => context.as_slice(),
        _ => &[],
    };
    if depth < 2 && !branches.is_empty() {
        let each: Vec<String> = branches
            .iter()
            .enumerate()
            .map(|(i, errors)| {
                let why: Vec<String> =
                    errors.iter().take(MAX_REPORTED_ERRORS).map(|e| describe(e, depth + 1)).collect();
                format!("alternative {}: {}", i + 1, why.join(", "))
            })
            .collect();
        return format!("{out} [{}]", each.join("; "));
    }
    out
}

fn parse_template(template: &str) -> Vec<Segment> {
    template
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Param
            } else {
                Segment::Literal(s.to_owned())
            }
        })
        .collect()
}

/// Follows a local `$ref` (`#/components/responses/X`) to what it names.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> Result<&'a Value, String> {
    let mut current = value;
    // A chain longer than this is a cycle.
    for _ in 0..16 {
        let Some(reference) = current.get("$ref").and_then(Value::as_str) else { return Ok(current) };
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| format!("only local references are supported, got {reference:?}"))?;
        current = doc.pointer(pointer).ok_or_else(|| format!("{reference:?} names nothing"))?;
    }
    Err("a $ref cycle".to_owned())
}

/// `application/json; charset=utf-8` -> `application/json`.
fn essence(media_type: &str) -> String {
    media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

fn prefix(body: &[u8]) -> String {
    let cut = body.get(..BODY_PREFIX_BYTES).unwrap_or(body);
    let more = if cut.len() < body.len() { "..." } else { "" };
    format!("{}{more}", String::from_utf8_lossy(cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JSON: Option<&str> = Some("application/json");

    fn ok(method: &str, path: &str, status: u16, body: &Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        if let Err(e) = check(method, path, status, JSON, &bytes) {
            panic!("expected a match, got: {e}");
        }
    }

    /// Asserts a mismatch whose message names `wanted` (and, always, the route and status).
    fn fails(method: &str, path: &str, status: u16, body: &Value, wanted: &str) {
        let bytes = serde_json::to_vec(body).unwrap();
        let e = check(method, path, status, JSON, &bytes).expect_err("expected a mismatch");
        assert!(e.contains(wanted), "{wanted:?} not in: {e}");
        assert!(e.contains(&format!("{} {path} -> {status}", method.to_uppercase())), "{e}");
    }

    fn preview() -> Value {
        json!({
            "title": "Example", "description": "An example page", "url": "https://example.com/",
            "image": null, "image_width": 1200, "image_height": null, "type": "website",
            "site_name": null, "author": null, "published_time": null, "lang": "en",
            "favicon": "https://example.com/favicon.ico"
        })
    }

    fn post() -> Value {
        json!({
            "user_id": "5c1d8e4a-0b7e-4c1e-9d4f-2a8b6f3e7d10",
            "post_id": "725617227714740224",
            "contents": "Hello",
            "url": "https://example.com/",
            "scrap": preview(),
            "created_at": "2026-11-24T07:43:48.123Z"
        })
    }

    fn without(mut value: Value, field: &str) -> Value {
        value.as_object_mut().unwrap().remove(field);
        value
    }

    fn with(mut value: Value, field: &str, v: Value) -> Value {
        value[field] = v;
        value
    }

    #[test]
    fn the_document_loads_and_every_response_schema_compiles() {
        let c = contract().unwrap();
        let mut routes: Vec<String> = c.operations.iter().map(Operation::label).collect();
        routes.sort_unstable();
        assert_eq!(
            routes,
            [
                "GET /api/v1/guid",
                "GET /api/v1/posts/{uid}",
                "GET /api/v1/scrap",
                "GET /api/v1/write_post/{uid}",
                "GET /v1/guid",
                "GET /v1/guid/{id}",
                "GET /v1/scrap",
                "GET /v1/users/{user_id}/posts",
                "POST /v1/posts",
            ]
        );
        assert!(c.operations.iter().all(|op| op.responses.values().all(|r| r.json_schema.is_some())));
    }

    #[test]
    fn a_created_post_matches() {
        ok("POST", "/v1/posts", 201, &post());
        ok("post", "/v1/posts", 201, &with(with(post(), "scrap", Value::Null), "url", Value::Null));
        let bytes = serde_json::to_vec(&post()).unwrap();
        check("POST", "/v1/posts", 201, Some("application/json; charset=utf-8"), &bytes).unwrap();
    }

    #[test]
    fn a_list_page_matches() {
        let page = json!({"posts": [post(), with(post(), "scrap", Value::Null)], "next_cursor": "725617227714740223"});
        ok("GET", "/v1/users/abc/posts?limit=2", 200, &page);
        ok("GET", "/v1/users/abc/posts", 200, &json!({"posts": [], "next_cursor": null}));
        let reference = json!({"posts": [{"user_id": "42", "post_id": 725_617_227_714_740_224u64,
            "contents": "hi", "url": null, "scrap": null}], "next_id": null});
        ok("GET", "/api/v1/posts/42?f=", 200, &reference);
    }

    #[test]
    fn other_routes_match_their_shapes() {
        ok("GET", "/v1/guid", 200, &json!({"id": "725617227974787072"}));
        ok("GET", "/v1/guid?count=2", 200, &json!({"ids": ["1", "2"]}));
        ok(
            "GET",
            "/v1/guid/301035209351393280",
            200,
            &json!({"id": "301035209351393280", "timestamp": "2023-07-20T11:15:02.336Z",
                "timestamp_ms": 1_689_851_702_336u64, "datacenter": 0, "worker": 0, "sequence": 0}),
        );
        ok(
            "GET",
            "/api/v1/guid",
            200,
            &json!({"guid": 725_617_228_394_217_472u64, "guid_str": "725617228394217472"}),
        );
        ok("GET", "/v1/scrap?url=https%3A%2F%2Fexample.com%2F", 200, &preview());
        let compat = json!({"code": 0, "scrap": {"title": "t", "url": null, "type": null, "image": null,
            "description": null, "author": null}});
        ok("GET", "/api/v1/scrap?url=x", 200, &compat);
        let reference_post =
            json!({"user_id": "u1", "post_id": 7, "contents": "old", "url": null, "scrap": null});
        ok("GET", "/api/v1/write_post/u1?contents=old", 200, &reference_post);
    }

    #[test]
    fn the_gateway_401_matches_and_a_function_made_one_does_not() {
        ok("POST", "/v1/posts", 401, &json!({"message": "Unauthorized"}));
        ok("GET", "/api/v1/write_post/u1", 401, &json!({"message": "Unauthorized"}));
        // A function answering 401 itself means the route lost its authorizer.
        fails("POST", "/v1/posts", 401, &json!({"code": "unauthorized", "message": "sign in"}), "code");
    }

    #[test]
    fn error_bodies_match() {
        ok("GET", "/v1/guid?count=0", 400, &json!({"code": "invalid_count", "message": "count must be..."}));
        ok("POST", "/v1/posts", 403, &json!({"code": "forbidden", "message": "not yours"}));
        ok("POST", "/v1/posts", 409, &json!({"code": "request_in_progress", "message": "retry shortly"}));
        ok("POST", "/v1/posts", 503, &json!({"code": "queue_unavailable", "message": "retry shortly"}));
        ok("GET", "/v1/scrap?url=x", 429, &json!({"code": "rate_limited", "message": "slow down"}));
        ok("GET", "/api/v1/write_post/u1", 404, &json!({"code": "not_found", "message": "switched off"}));
    }

    #[test]
    fn a_missing_field_fails() {
        fails("POST", "/v1/posts", 201, &without(post(), "created_at"), "created_at");
        fails("GET", "/v1/users/abc/posts", 200, &json!({"posts": []}), "next_cursor");
        fails("GET", "/v1/scrap?url=x", 200, &without(preview(), "favicon"), "favicon");
        fails("GET", "/v1/guid", 400, &json!({"code": "invalid_count"}), "message");
    }

    #[test]
    fn a_wrong_type_or_value_fails() {
        // v1 ids are strings; the reference routes' are numbers.
        fails(
            "POST",
            "/v1/posts",
            201,
            &with(post(), "post_id", json!(725_617_227_714_740_224u64)),
            "/post_id",
        );
        let reference = json!({"posts": [], "next_id": "725617227714740224"});
        fails("GET", "/api/v1/posts/42", 200, &reference, "/next_id");
        fails("POST", "/v1/posts", 201, &with(post(), "created_at", json!("yesterday")), "/created_at");
        fails("POST", "/v1/posts", 201, &with(post(), "contents", json!("")), "/contents");
        fails("POST", "/v1/posts", 201, &with(post(), "user_id", json!("a b")), "/user_id");
        let page = json!({"posts": [with(post(), "scrap", json!({"title": "x"}))], "next_cursor": null});
        fails("GET", "/v1/users/abc/posts", 200, &page, "/posts/0/scrap");
        // A code the route cannot answer with that status.
        fails("GET", "/v1/guid", 400, &json!({"code": "invalid_id", "message": "m"}), "/code");
    }

    #[test]
    fn an_extra_field_fails() {
        fails("POST", "/v1/posts", 201, &with(post(), "author", json!("x")), "author");
        fails(
            "GET",
            "/v1/guid",
            400,
            &json!({"code": "invalid_count", "message": "m", "detail": "x"}),
            "detail",
        );
        fails("GET", "/v1/guid", 200, &json!({"id": "1", "ids": ["1"]}), "/");
    }

    #[test]
    fn an_undocumented_status_fails() {
        let e = check("GET", "/v1/guid", 418, JSON, br#"{"code":"teapot","message":"m"}"#).unwrap_err();
        assert!(e.contains("status 418 is not documented for GET /v1/guid"), "{e}");
        assert!(e.contains(r#"body: {"code":"teapot""#), "{e}");
        // Reads need no token: a 401 there is not part of the contract.
        fails("GET", "/v1/users/abc/posts", 401, &json!({"message": "Unauthorized"}), "not documented");
    }

    #[test]
    fn an_unknown_route_or_method_fails() {
        for path in ["/no/such/route", "/v1/guids", "/v1/guid/1/2", "/", "/v1/users/abc"] {
            fails("GET", path, 404, &json!({"code": "not_found", "message": "m"}), "no documented route");
        }
        fails(
            "DELETE",
            "/v1/guid",
            405,
            &json!({"code": "method_not_allowed", "message": "m"}),
            "GET /v1/guid",
        );
        fails("GET", "/v1/posts", 200, &post(), "POST /v1/posts");
    }

    #[test]
    fn a_wrong_content_type_or_a_body_that_is_not_json_fails() {
        let bytes = serde_json::to_vec(&json!({"id": "1"})).unwrap();
        let e = check("GET", "/v1/guid", 200, Some("text/plain"), &bytes).unwrap_err();
        assert!(e.contains("text/plain"), "{e}");
        let e = check("GET", "/v1/guid", 200, None, &bytes).unwrap_err();
        assert!(e.contains("no Content-Type"), "{e}");
        let e = check("GET", "/v1/guid", 200, JSON, b"<html>oops</html>").unwrap_err();
        assert!(e.contains("not JSON") && e.contains("<html>oops</html>"), "{e}");
    }

    #[test]
    fn paths_match_templates_whatever_their_query_or_slashes() {
        let c = contract().unwrap();
        let template = |m: &str, p: &str| c.operation(m, p).map(|op| op.template.clone());
        assert_eq!(template("GET", "/v1/guid?count=3").unwrap(), "/v1/guid");
        assert_eq!(template("GET", "/v1/guid/").unwrap(), "/v1/guid");
        assert_eq!(template("GET", "/v1/guid/123").unwrap(), "/v1/guid/{id}");
        assert_eq!(template("GET", "/v1/users/a%20b/posts?cursor=1#x").unwrap(), "/v1/users/{user_id}/posts");
        assert_eq!(
            template("GET", "/api/v1/write_post/u1?contents=a%2Fb").unwrap(),
            "/api/v1/write_post/{uid}"
        );
    }

    #[test]
    fn long_bodies_are_quoted_by_a_prefix() {
        let body = format!(r#"{{"id": 1, "pad": "{}"}}"#, "x".repeat(1_000));
        let e = check("GET", "/v1/guid", 200, JSON, body.as_bytes()).unwrap_err();
        assert!(e.ends_with("..."), "{e}");
        assert!(e.len() < 1_500, "{e}");
        // Which alternative of the `oneOf` failed, and why.
        assert!(e.contains("alternative 1: at /id:") && e.contains("alternative 2: at /:"), "{e}");
    }

    /// The examples written into the document are answers too; they must follow it.
    #[test]
    fn the_documents_own_examples_match() {
        let doc: Value = yaml_serde::from_str(&std::fs::read_to_string(SPEC_PATH).unwrap()).unwrap();
        let c = contract().unwrap();
        let mut seen = 0;
        for op in &c.operations {
            let responses = &doc["paths"][&op.template][&op.method]["responses"];
            for (status, response) in responses.as_object().unwrap() {
                let response = resolve(&doc, response).unwrap();
                let media = &response["content"]["application/json"];
                let mut examples: Vec<&Value> = media.get("example").into_iter().collect();
                if let Some(named) = media.get("examples").and_then(Value::as_object) {
                    examples.extend(named.values().map(|e| &e["value"]));
                }
                for example in examples {
                    let bytes = serde_json::to_vec(example).unwrap();
                    let status: u16 = status.parse().unwrap();
                    check(&op.method, &op.template, status, JSON, &bytes).unwrap();
                    seen += 1;
                }
            }
        }
        assert!(seen >= 3, "only {seen} examples checked");
    }
}
