//! One SQS batch: persist every post, report the message ids that failed.
//!
//! A permanent failure (a message that can never become a post) is reported too: after the
//! queue's receive limit it reaches the dead-letter queue, whose handler parks it. Each record
//! is logged with its message id, receive count, correlation id and trace header, so one post
//! can be followed from the HTTP request into the drain.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use domain::posts::drain::{Backoff, PostBatchStore, drain};
use lambda_runtime::{Error, LambdaEvent};
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
    let mut response = SqsBatchResponse::default();
    for record in &event.payload.records {
        let Some(id) = record.message_id.clone().filter(|id| !id.is_empty()) else {
            // Without an id the message cannot be reported alone; SQS redelivers it after the
            // visibility timeout if the batch does not succeed, which it will not be told of.
            tracing::error!("record without a message id skipped");
            continue;
        };
        let correlation =
            record.message_attributes.get("correlation_id").and_then(|a| a.string_value.clone());
        tracing::info!(
            message_id = %id,
            receive_count = record.attributes.get("ApproximateReceiveCount").map(String::as_str).unwrap_or("?"),
            correlation_id = correlation.as_deref().unwrap_or(""),
            trace = record.attributes.get("AWSTraceHeader").map(String::as_str).unwrap_or(""),
            "message received"
        );
        messages.push((id, record.body.clone().unwrap_or_default()));
    }
    let outcome = drain(store, &messages, deadline, Backoff::default()).await;
    for failure in &outcome.failed {
        tracing::warn!(
            message_id = %failure.message_id,
            permanent = failure.permanent,
            reason = %failure.reason,
            "message not persisted"
        );
        response.add_failure(failure.message_id.clone());
    }
    tracing::info!(persisted = outcome.persisted.len(), failed = outcome.failed.len(), "batch drained");
    let permanent = outcome.failed.iter().filter(|f| f.permanent).count();
    chassis::metrics::Record::new("queue-drain")
        .count("BatchSize", event.payload.records.len() as u64)
        .count("PostsPersisted", outcome.persisted.len() as u64)
        .count("MessagesFailedTransient", (outcome.failed.len() - permanent) as u64)
        .count("MessagesFailedPermanent", permanent as u64)
        .property("request_id", event.context.request_id.clone())
        .emit();
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
