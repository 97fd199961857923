//! What an operator sees: one trace id on every log line about a post, from the HTTP request
//! through the queue into queue-drain and the dead-letter handler; EMF metric records in the
//! functions' log groups (requests, latency, per-node cache hits and misses, queue sends,
//! drain figures, parked messages).

use integration::now_ms;
use integration::site::Site;
use integration::{get_json_with, http, scrap_path, sdk, stack_output, unique, writer};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A fresh W3C trace id and its `traceparent` header.
fn trace() -> (String, String) {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let id = format!("{:016x}{:016x}", std::process::id() as u128 * 7_919 + 1, nanos as u64);
    let header = format!("00-{id}-00f067aa0ba902b7-01");
    (id, header)
}

/// Every JSON log line of `group` since `since`, parsed.
async fn lines(group: &str, since: u64) -> Vec<Value> {
    integration::faults::log_events(group, since, None).await
}

/// Polls `group` until `done` holds for its lines (or 60 s pass); returns the last lines.
async fn wait_for_lines(group: &str, since: u64, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = lines(group, since).await;
        if done(&found) || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The trace id a log line was written under (its span's field, or an EMF property).
fn trace_of(line: &Value) -> Option<&str> {
    line["span"]["trace_id"].as_str().or_else(|| line["trace_id"].as_str())
}

fn is_emf(line: &Value) -> bool {
    line.get("_aws").is_some()
}

fn metric_names(line: &Value) -> Vec<&str> {
    line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["Name"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn one_trace_id_follows_a_post_and_every_function_emits_emf() {
    let (c, w) = (http(), writer("traced").await);
    let since = now_ms() - 5_000;
    let (trace_id, traceparent) = trace();

    let (s, b, headers) =
        w.post(&c, "/v1/posts", &json!({"contents": "follow me"}), &[("traceparent", &traceparent)]).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(headers.get("x-trace-id").map(|v| v.to_str().unwrap()), Some(trace_id.as_str()));
    let post_id = b["post_id"].as_str().unwrap().to_owned();
    // A read under its own trace id: its cache lookups are counted per node.
    let (read_trace, read_parent) = trace();
    let (s, _) =
        get_json_with(&c, &format!("/v1/users/{}/posts", w.sub), &[("traceparent", &read_parent)]).await;
    assert_eq!(s, 200);

    // post-write: the request's log lines carry the trace id; its EMF records too, with the
    // queue send counted.
    let group = stack_output("PostWriteLogGroupName").await;
    let write_lines = wait_for_lines(&group, since, |ls| {
        ls.iter().any(|l| is_emf(l) && trace_of(l) == Some(&trace_id) && l.get("QueueSends").is_some())
    })
    .await;
    let ours: Vec<&Value> = write_lines.iter().filter(|l| trace_of(l) == Some(&trace_id)).collect();
    let requests = ours.iter().find(|l| is_emf(l) && metric_names(l).contains(&"Requests"));
    let requests =
        requests.unwrap_or_else(|| panic!("no request EMF record for {trace_id}: {write_lines:?}"));
    assert_eq!(requests["_aws"]["CloudWatchMetrics"][0]["Namespace"], "PostService");
    assert_eq!(
        (requests["function"].as_str(), requests["status"].as_str()),
        (Some("post-write"), Some("201"))
    );
    assert_eq!(requests["route"], "POST /v1/posts");
    assert!(requests["Latency"].as_f64().is_some_and(|ms| ms > 0.0));
    assert!(ours.iter().any(|l| is_emf(l) && l["QueueSends"] == 1.0), "{ours:?}");
    // Every line logged inside a request span names its trace: none is left without one.
    for l in write_lines.iter().filter(|l| l.get("span").is_some()) {
        assert!(trace_of(l).is_some_and(|t| !t.is_empty()), "a log line without a trace id: {l}");
    }

    // post-read: per-node cache hits or misses, under the read's trace id.
    let group = stack_output("PostReadLogGroupName").await;
    let read_lines = wait_for_lines(&group, since, |ls| {
        ls.iter().any(|l| is_emf(l) && trace_of(l) == Some(&read_trace) && l.get("node").is_some())
    })
    .await;
    let cache = read_lines
        .iter()
        .find(|l| is_emf(l) && trace_of(l) == Some(&read_trace) && l.get("node").is_some())
        .unwrap_or_else(|| panic!("no per-node cache record for {read_trace}: {read_lines:?}"));
    assert!(cache.get("CacheHits").is_some() || cache.get("CacheMisses").is_some(), "{cache}");
    assert_eq!(
        cache["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["function"], ["function", "node"]])
    );

    // queue-drain: the message's lines carry the same trace id, up to "post persisted"; its
    // batch record counts what it persisted.
    let group = stack_output("QueueDrainLogGroupName").await;
    let drain_lines = wait_for_lines(&group, since, |ls| {
        ls.iter().any(|l| trace_of(l) == Some(&trace_id) && l["message"] == "post persisted")
    })
    .await;
    let messages: Vec<&str> = drain_lines
        .iter()
        .filter(|l| trace_of(l) == Some(&trace_id))
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"message received") && messages.contains(&"post persisted"),
        "drain lines for {trace_id} (post {post_id}): {messages:?}"
    );
    // With X-Ray tracing on (the template's default), the invocation's trace header rode on the
    // message too (AWSTraceHeader), so X-Ray links the write to its drain.
    let received = drain_lines
        .iter()
        .find(|l| trace_of(l) == Some(&trace_id) && l["message"] == "message received")
        .unwrap();
    assert!(
        received["xray"].as_str().is_some_and(|x| x.starts_with("Root=1-")),
        "no X-Ray header on the message: {received}"
    );
    assert!(
        drain_lines.iter().any(|l| is_emf(l)
            && l["function"] == "queue-drain"
            && l["PostsPersisted"].as_f64() >= Some(1.0)),
        "no drain EMF record"
    );
}

#[tokio::test]
async fn a_dead_letter_keeps_its_trace_id_into_the_parked_table() {
    // A poison message under a known trace id: the drain fails it (permanent), SQS moves it to
    // the dead-letter queue after its receives, the handler parks it; all under one trace id.
    let since = now_ms() - 5_000;
    let (trace_id, _) = trace();
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let attr = aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value(&trace_id)
        .build()
        .unwrap();
    sqs.send_message()
        .queue_url(stack_output("PostsQueueUrl").await)
        .message_body(format!(r#"{{"v":1,"post":{{"user_id":"traced poison {trace_id}"}}}}"#))
        .message_attributes("trace_id", attr)
        .send()
        .await
        .unwrap();

    let group = stack_output("QueueDrainLogGroupName").await;
    let drain_lines = wait_for_lines(&group, since, |ls| {
        ls.iter().any(|l| trace_of(l) == Some(&trace_id) && l["message"] == "message not persisted")
    })
    .await;
    let failed = drain_lines
        .iter()
        .find(|l| trace_of(l) == Some(&trace_id) && l["message"] == "message not persisted")
        .unwrap_or_else(|| panic!("no failure line for {trace_id}"));
    assert_eq!(failed["permanent"], true, "{failed}");

    let group = stack_output("DlqHandlerLogGroupName").await;
    let dlq_lines = wait_for_lines(&group, since, |ls| {
        ls.iter().any(|l| trace_of(l) == Some(&trace_id) && l["message"] == "dead letter parked")
    })
    .await;
    assert!(
        dlq_lines.iter().any(|l| trace_of(l) == Some(&trace_id) && l["message"] == "dead letter parked"),
        "the dead-letter handler's lines for {trace_id}: {:?}",
        dlq_lines.iter().filter(|l| trace_of(l) == Some(&trace_id)).collect::<Vec<_>>()
    );
    assert!(
        dlq_lines.iter().any(|l| is_emf(l)
            && l["function"] == "dlq-handler"
            && l["MessagesParked"].as_f64() >= Some(1.0)),
        "no parked EMF record"
    );
}

#[tokio::test]
async fn previews_count_fetches_and_cache_hits_and_guid_counts_its_lease() {
    let (c, site) = (http(), Site::start().await);
    let since = now_ms() - 5_000;
    let url = site.url(&format!("/counted?run={}", unique("emf")));
    // The same link twice: fetched once, then a cache hit; each under its own trace id.
    let mut traces = Vec::new();
    for _ in 0..2 {
        let (trace_id, traceparent) = trace();
        let (s, b) =
            get_json_with(&c, &scrap_path("/v1/scrap", &url), &[("traceparent", &traceparent)]).await;
        assert_eq!(s, 200, "{b}");
        traces.push(trace_id);
    }
    let group = stack_output("ScrapLogGroupName").await;
    let record = |ls: &[Value], trace: &str, metric: &str| {
        ls.iter().any(|l| is_emf(l) && trace_of(l) == Some(trace) && l[metric].as_f64() == Some(1.0))
    };
    let lines = wait_for_lines(&group, since, |ls| {
        record(ls, &traces[0], "PreviewFetches") && record(ls, &traces[1], "PreviewCacheHits")
    })
    .await;
    assert!(record(&lines, &traces[0], "PreviewFetches"), "first call fetched: {lines:?}");
    assert!(record(&lines, &traces[0], "PreviewCacheMisses"), "first call missed the cache");
    assert!(record(&lines, &traces[1], "PreviewCacheHits"), "second call hit the cache");
    assert!(!record(&lines, &traces[1], "PreviewFetches"), "second call fetched nothing");
    assert_eq!(site.hits(url.trim_start_matches(&site.url(""))), 1);

    // guid took a worker lease when it started (some request of this stack's life made it
    // start): counted as a lease acquisition.
    let (s, _) = get_json_with(&c, "/v1/guid", &[]).await;
    assert_eq!(s, 200);
    let group = stack_output("GuidLogGroupName").await;
    let lines = wait_for_lines(&group, 0, |ls| {
        ls.iter()
            .any(|l| is_emf(l) && l["function"] == "guid" && l["LeaseAcquisitions"].as_f64() >= Some(1.0))
    })
    .await;
    assert!(
        lines
            .iter()
            .any(|l| is_emf(l) && l["function"] == "guid" && l["LeaseAcquisitions"].as_f64() >= Some(1.0)),
        "no lease acquisition counted by guid"
    );
}
