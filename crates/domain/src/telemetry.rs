//! Counts of what the domain decided (a preview answered from the cache or not), written down
//! by whatever the function installs at start (EMF lines, through the chassis); until then they
//! go nowhere. The same split as `tracing`'s dispatcher: the domain says what happened, the
//! function says how it is recorded, and the domain stays free of the Lambda crates.

use std::sync::OnceLock;

static SINK: OnceLock<fn(&'static str, u64)> = OnceLock::new();

/// Sends every later [`count`] to `sink`. The first install wins; call it once, at start.
pub fn install(sink: fn(&'static str, u64)) {
    let _ = SINK.set(sink);
}

/// Adds `n` to `metric`, if a sink is installed.
pub fn count(metric: &'static str, n: u64) {
    if let Some(sink) = SINK.get() {
        sink(metric, n);
    }
}
