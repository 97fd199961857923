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
use std::time::{SystemTime, UNIX_EPOCH};

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
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        println!("{}", self.to_json(now));
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
    fn no_extra_dimensions_gives_one_set() {
        let v = Record::new("queue-drain").count("PostsPersisted", 25).to_json(1);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
        assert_eq!(v["PostsPersisted"], 25.0);
    }
}
