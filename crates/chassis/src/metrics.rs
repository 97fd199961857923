//! CloudWatch Embedded Metric Format: one JSON object per line on stdout, which CloudWatch
//! Logs turns into metrics without any API call from the function.
//!
//! ```text
//! {"_aws":{"Timestamp":1795506228123,"CloudWatchMetrics":[{"Namespace":"PostService",
//!   "Dimensions":[["function"],["function","route","status"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},
//!  "function":"guid","route":"GET /v1/guid","status":"200","Requests":1,"request_id":"..."}
//! ```
//!
//! Dimensions are few and low-cardinality (function, route, status, node); ids go in as plain
//! properties. Written with `println!`, not through `tracing`: a log line wrapped in another
//! JSON object is not read as EMF.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

pub const NAMESPACE: &str = "PostService";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// One EMF record: dimensions, metric values and properties, written by [`Record::emit`].
#[derive(Debug, Clone)]
pub struct Record {
    function: String,
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, f64, Unit)>,
    properties: Map<String, Value>,
}

impl Record {
    /// A record for `function` (always a dimension).
    pub fn new(function: impl Into<String>) -> Self {
        Self {
            function: function.into(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    /// Adds a dimension (low cardinality only: route, status, node).
    pub fn dimension(mut self, name: &str, value: impl Into<String>) -> Self {
        self.dimensions.push((name.to_owned(), value.into()));
        self
    }

    pub fn metric(mut self, name: &str, value: f64, unit: Unit) -> Self {
        self.metrics.push((name.to_owned(), value, unit));
        self
    }

    pub fn count(self, name: &str, value: u64) -> Self {
        self.metric(name, value as f64, Unit::Count)
    }

    pub fn millis(self, name: &str, value: f64) -> Self {
        self.metric(name, value, Unit::Milliseconds)
    }

    /// A searchable property that is not a dimension (request ids, post ids).
    pub fn property(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.properties.insert(name.to_owned(), value.into());
        self
    }

    /// The JSON line, stamped with `timestamp_ms`.
    pub fn to_json(&self, timestamp_ms: u64) -> Value {
        let mut names: Vec<&str> = vec!["function"];
        names.extend(self.dimensions.iter().map(|(n, _)| n.as_str()));
        // The function alone, and every dimension together: totals per function, and details.
        let dimension_sets: Vec<Vec<&str>> =
            if names.len() > 1 { vec![vec!["function"], names.clone()] } else { vec![names.clone()] };
        let metrics: Vec<Value> =
            self.metrics.iter().map(|(n, _, u)| json!({"Name": n, "Unit": u.as_str()})).collect();
        let mut root = self.properties.clone();
        root.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": dimension_sets, "Metrics": metrics}]}),
        );
        root.insert("function".into(), Value::String(self.function.clone()));
        for (n, v) in &self.dimensions {
            root.insert(n.clone(), Value::String(v.clone()));
        }
        for (n, v, _) in &self.metrics {
            root.insert(n.clone(), json!(v));
        }
        Value::Object(root)
    }

    /// Prints the record as one line on stdout (CloudWatch Logs parses it).
    pub fn emit(&self) {
        use snowflake::Clock;
        println!("{}", self.to_json(snowflake::SystemClock.now_ms()));
    }
}

/// Counts made deep in the adapters (a cache hit on one node, a queue send), summed per
/// dimension set until the invocation ends and [`flush`] writes them as EMF records: one line
/// per node per invocation rather than one per call. A Lambda instance runs one invocation at a
/// time, so a flush holds exactly that invocation's counts (plus any made between invocations).
type Dimensions = Vec<(&'static str, String)>;
static TALLY: Mutex<BTreeMap<Dimensions, BTreeMap<&'static str, u64>>> = Mutex::new(BTreeMap::new());

/// Tests that count or flush hold this, as the tally is shared by the whole test binary.
#[cfg(test)]
pub(crate) static TALLY_TEST_LOCK: Mutex<()> = Mutex::new(());

/// Adds `n` to `metric` under the extra `dimensions` (low cardinality: a node address).
pub fn count(metric: &'static str, dimensions: &[(&'static str, &str)], n: u64) {
    if n == 0 {
        return;
    }
    let key: Dimensions = dimensions.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let mut tally = TALLY.lock().unwrap_or_else(PoisonError::into_inner);
    *tally.entry(key).or_default().entry(metric).or_default() += n;
}

/// [`count`] without dimensions: what `domain::telemetry` is pointed at.
pub fn count_total(metric: &'static str, n: u64) {
    count(metric, &[], n);
}

/// The records of everything counted since the last flush, emptying the tally.
pub fn take(function: &str) -> Vec<Record> {
    let tally = std::mem::take(&mut *TALLY.lock().unwrap_or_else(PoisonError::into_inner));
    tally
        .into_iter()
        .map(|(dimensions, metrics)| {
            let record = dimensions.into_iter().fold(Record::new(function), |r, (k, v)| r.dimension(k, v));
            metrics.into_iter().fold(record, |r, (name, n)| r.count(name, n))
        })
        .collect()
}

/// Writes what was counted since the last flush, each record carrying `trace_id`.
pub fn flush(function: &str, trace_id: &str) {
    for record in take(function) {
        record.property("trace_id", trace_id).emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_record() {
        let r = Record::new("guid")
            .dimension("route", "GET /v1/guid")
            .dimension("status", "200")
            .count("Requests", 1)
            .millis("Latency", 1.5)
            .property("request_id", "abc");
        assert_eq!(
            r.to_json(1_795_506_228_123),
            json!({
                "_aws": {"Timestamp": 1_795_506_228_123u64, "CloudWatchMetrics": [{
                    "Namespace": "PostService",
                    "Dimensions": [["function"], ["function", "route", "status"]],
                    "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}]
                }]},
                "function": "guid", "route": "GET /v1/guid", "status": "200",
                "Requests": 1.0, "Latency": 1.5, "request_id": "abc"
            })
        );
    }

    #[test]
    fn counts_are_summed_per_dimension_set_and_taken_once() {
        let _tally = TALLY_TEST_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        count("CacheHits", &[("node", "10.0.0.1:6379")], 2);
        count("CacheHits", &[("node", "10.0.0.1:6379")], 3);
        count("CacheMisses", &[("node", "10.0.0.1:6379")], 1);
        count("CacheHits", &[("node", "10.0.0.2:6379")], 1);
        count("QueueSends", &[], 1);
        count("QueueSendFailures", &[], 0);
        let records: Vec<Value> = take("post-read").iter().map(|r| r.to_json(7)).collect();
        assert_eq!(records.len(), 3, "{records:?}");
        assert_eq!(records[0]["QueueSends"], 1.0);
        assert!(records[0].get("QueueSendFailures").is_none());
        assert_eq!(records[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
        let first = &records[1];
        assert_eq!(
            (first["node"].as_str(), &first["CacheHits"], &first["CacheMisses"]),
            (Some("10.0.0.1:6379"), &json!(5.0), &json!(1.0))
        );
        assert_eq!(
            first["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["function"], ["function", "node"]])
        );
        assert_eq!(records[2]["CacheHits"], 1.0);
        assert!(take("post-read").is_empty());
    }

    #[test]
    fn no_extra_dimensions_gives_one_set() {
        let v = Record::new("queue-drain").count("PostsPersisted", 25).to_json(1);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
        assert_eq!(v["PostsPersisted"], 25.0);
    }
}
