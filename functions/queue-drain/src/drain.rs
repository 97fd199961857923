//! One SQS batch: persist every post, report the message ids that failed.
//!
//! A permanent failure (a message that can never become a post) is reported too: after the
//! queue's receive limit it reaches the dead-letter queue, whose handler parks it. Every line
//! logged about a message is logged inside a span carrying its `trace_id` (the message
//! attribute post-write set from the HTTP request) and message id, so one post can be followed
//! from the HTTP request into the drain.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use domain::posts::TRACE_ATTRIBUTE;
use domain::posts::drain::{Backoff, PostBatchStore, drain};
use lambda_runtime::{Error, LambdaEvent};
use std::collections::HashMap;
use std::time::Duration;

/// Time kept back from the invocation's deadline to answer.
const MARGIN: Duration = Duration::from_millis(1_500);

pub async fn handle<S: PostBatchStore>(
    store: &S,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let budget = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + budget.saturating_sub(MARGIN);
    let mut messages = Vec::with_capacity(event.payload.records.len());
    let mut spans = HashMap::with_capacity(event.payload.records.len());
    let mut response = SqsBatchResponse::default();
    for record in &event.payload.records {
        let Some(id) = record.message_id.clone().filter(|id| !id.is_empty()) else {
            // Without an id the message cannot be reported alone; SQS redelivers it after the
            // visibility timeout if the batch does not succeed, which it will not be told of.
            tracing::error!("record without a message id skipped");
            continue;
        };
        let trace_id = record.message_attributes.get(TRACE_ATTRIBUTE).and_then(|a| a.string_value.as_deref());
        let span = tracing::info_span!(
            "message",
            requestId = %event.context.request_id,
            trace_id = trace_id.unwrap_or(""),
            message_id = %id,
        );
        span.in_scope(|| {
            tracing::info!(
                receive_count =
                    record.attributes.get("ApproximateReceiveCount").map(String::as_str).unwrap_or("?"),
                xray = record.attributes.get("AWSTraceHeader").map(String::as_str).unwrap_or(""),
                "message received"
            )
        });
        spans.insert(id.clone(), span);
        messages.push((id, record.body.clone().unwrap_or_default()));
    }
    let outcome = drain(store, &messages, deadline, Backoff::default()).await;
    let in_span = |id: &str, log: &dyn Fn()| match spans.get(id) {
        Some(span) => span.in_scope(log),
        None => log(),
    };
    for id in &outcome.persisted {
        in_span(id, &|| tracing::info!("post persisted"));
    }
    for failure in &outcome.failed {
        in_span(
            &failure.message_id,
            &|| tracing::warn!(permanent = failure.permanent, reason = %failure.reason, "message not persisted"),
        );
        response.add_failure(failure.message_id.clone());
    }
    tracing::info!(
        persisted = outcome.persisted.len(),
        failed = outcome.failed.len(),
        retries = outcome.retries,
        "batch drained"
    );
    let permanent = outcome.failed.iter().filter(|f| f.permanent).count();
    chassis::metrics::Record::new("queue-drain")
        .count("BatchSize", event.payload.records.len() as u64)
        .count("PostsPersisted", outcome.persisted.len() as u64)
        .count("WriteRetries", outcome.retries)
        .count("MessagesFailedTransient", (outcome.failed.len() - permanent) as u64)
        .count("MessagesFailedPermanent", permanent as u64)
        .property("request_id", event.context.request_id.clone())
        .emit();
    chassis::metrics::flush("queue-drain", &event.context.request_id);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::posts::{Post, StoreError};
    use std::sync::Mutex;

    #[derive(Default)]
    struct Table(Mutex<Vec<Post>>);

    impl PostBatchStore for Table {
        async fn put_batch(&self, posts: &[Post]) -> Result<Vec<usize>, StoreError> {
            self.0.lock().unwrap().extend(posts.iter().cloned());
            Ok(Vec::new())
        }
    }

    fn event(file: &str) -> LambdaEvent<SqsEvent> {
        let path = format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"));
        let payload: SqsEvent = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut context = lambda_runtime::Context::default();
        context.deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        LambdaEvent::new(payload, context)
    }

    #[tokio::test]
    async fn sample_batch_persists_the_post_and_reports_the_poison_message() {
        let table = Table::default();
        let response = handle(&table, event("queue-drain-batch.json")).await.unwrap();
        let failed: Vec<&str> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["poison-1"]);
        assert_eq!(table.0.lock().unwrap().len(), 1);
    }
}
