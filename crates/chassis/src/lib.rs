//! What every function shares, so they all start, log and fail the same way.
//!
//! - [`config`]: typed configuration from environment variables, checked at cold start with a
//!   message that names the variable and what is wrong with it.
//! - [`logging`]: one JSON object per line, carrying the invocation's request id and trace id.
//! - [`metrics`]: CloudWatch Embedded Metric Format records, one JSON line each.
//! - [`request`]: the caller, request id, trace id, path segments and query of a request.
//! - [`routes`]: a function's routes as a table; 404 and 405 decided in one place.
//! - [`http`]: the one error body `{"code": "...", "message": "..."}` with its HTTP status, and
//!   JSON responses.
//! - [`errors`]: domain errors as that body, mapped in one place.
//! - `fixtures` (feature `fixtures`): the `events/` files handler tests start from.

pub mod config;
pub mod errors;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod request;
pub mod routes;

pub use config::{ConfigError, Env};
pub use http::{ApiError, json_response};
