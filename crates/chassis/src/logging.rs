//! Logging: one JSON object per line on stdout, which CloudWatch Logs indexes field by field.
//!
//! The Lambda runtime opens a span per invocation carrying `requestId` and `xrayTraceId`; the
//! JSON lines include the current span's fields, so every line names its request. Set
//! `LOG_FORMAT=text` for human-readable lines when running by hand; the level comes from
//! `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO (as in `lambda_runtime`'s own subscriber).

use lambda_http::tracing::subscriber::{EnvFilter, filter::LevelFilter, fmt};

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder().with_default_directive(level.into()).from_env_lossy();
    let builder = fmt().with_target(false).with_env_filter(filter).with_writer(std::io::stdout);
    // Lambda's advanced logging controls set AWS_LAMBDA_LOG_FORMAT; LOG_FORMAT is ours.
    let format =
        std::env::var("AWS_LAMBDA_LOG_FORMAT").or_else(|_| std::env::var("LOG_FORMAT")).unwrap_or_default();
    let result = if format.eq_ignore_ascii_case("text") {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    };
    // A second init (tests) keeps the first subscriber, which is what we want.
    drop(result);
}
