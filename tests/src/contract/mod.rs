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
mod tests;
