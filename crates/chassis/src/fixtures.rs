//! The recorded events under `events/` that handler tests start from (feature `fixtures`, for
//! the functions' tests only).

use serde::de::DeserializeOwned;

/// `events/<file>` parsed as `T` (a JSON value to edit, an SQS event). A missing or malformed
/// fixture is a broken test: it panics, naming the file.
pub fn event<T: DeserializeOwned>(file: &str) -> T {
    let path = format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}
