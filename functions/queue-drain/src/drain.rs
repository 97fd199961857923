//! One SQS batch: persist every post, report the message ids that failed, and make those
//! visible again early (a permanent failure at once, a transient one after a short backoff)
//! instead of after the queue's whole visibility timeout.
//!
//! A permanent failure (a message that can never become a post) is reported too: after the
//! queue's receive limit it reaches the dead-letter queue, whose handler parks it. A record
//! without a message id cannot be reported alone, so it fails the whole batch: better every
//! message again (writing is idempotent) than one deleted unpersisted. Every line
//! logged about a message is logged inside a span carrying its `trace_id` (the message
//! attribute post-write set from the HTTP request) and message id, so one post can be followed
//! from the HTTP request into the drain.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chassis::errors::BatchError;
use domain::posts::PostCache;
use domain::posts::TRACE_ATTRIBUTE;
use domain::posts::drain::{Backoff, PostBatchStore, Redeliveries, drain, list_persisted};
use lambda_runtime::LambdaEvent;
use std::collections::HashMap;
use std::time::Duration;

/// Time kept back from the invocation's deadline: for the early redeliveries, then to answer.
const MARGIN: Duration = Duration::from_millis(1_500);
/// Of [`MARGIN`], what is kept back to answer once the redeliveries are asked for.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

pub struct Deps<S, R, C> {
    pub store: S,
    pub redeliveries: R,
    /// The posts cache, whose lists get the persisted posts (none: no cache configured).
    pub cache: Option<C>,
}

pub async fn handle<S: PostBatchStore, R: Redeliveries, C: PostCache>(
    deps: &Deps<S, R, C>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, BatchError> {
    let started = tokio::time::Instant::now();
    let budget = event.context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default();
    let deadline = started + budget.saturating_sub(MARGIN);
    let mut messages = Vec::with_capacity(event.payload.records.len());
    let mut spans = HashMap::with_capacity(event.payload.records.len());
    let mut receipts = HashMap::with_capacity(event.payload.records.len());
    let mut response = SqsBatchResponse::default();
    if let Some(i) =
        event.payload.records.iter().position(|r| r.message_id.as_deref().is_none_or(str::is_empty))
    {
        tracing::error!(
            record = i,
            records = event.payload.records.len(),
            "record without a message id: the batch fails whole"
        );
        return Err(BatchError::MissingMessageId { index: i });
    }
    for record in &event.payload.records {
        let Some(id) = record.message_id.clone() else { continue };
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
        let receive_count =
            record.attributes.get("ApproximateReceiveCount").and_then(|n| n.parse::<u32>().ok()).unwrap_or(1);
        if let Some(handle) = record.receipt_handle.clone() {
            receipts.insert(id.clone(), (handle, receive_count));
        }
        messages.push((id, record.body.clone().unwrap_or_default()));
    }
    let mut outcome = drain(&deps.store, &messages, deadline, Backoff::default()).await;
    let unlisted = match &deps.cache {
        Some(cache) => {
            let receives = receipts.iter().map(|(id, (_, n))| (id.clone(), *n)).collect();
            list_persisted(cache, &mut outcome, &receives, deadline).await
        }
        None => 0,
    };
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
    let early: Vec<(String, u32)> = outcome
        .failed
        .iter()
        .filter_map(|f| {
            let (handle, receives) = receipts.get(&f.message_id)?;
            Some((handle.clone(), f.redelivery_delay_s(*receives)))
        })
        .collect();
    if !early.is_empty() {
        let until = started + budget.saturating_sub(ANSWER_MARGIN);
        match tokio::time::timeout_at(until, deps.redeliveries.redeliver(&early)).await {
            Ok(Ok(())) => {}
            // They come back after the visibility timeout instead.
            Ok(Err(e)) => tracing::warn!(error = %e, "failed messages not made visible early"),
            Err(_) => tracing::warn!("failed messages not made visible early: no time left"),
        }
    }
    tracing::info!(
        persisted = outcome.persisted.len(),
        failed = outcome.failed.len(),
        retries = outcome.retries,
        lists_not_updated = unlisted,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "batch drained"
    );
    let permanent = outcome.failed.iter().filter(|f| f.permanent).count();
    chassis::metrics::Record::new("queue-drain")
        .count("BatchSize", event.payload.records.len() as u64)
        .count("PostsPersisted", outcome.persisted.len() as u64)
        .count("WriteRetries", outcome.retries)
        .count("ListUpdateFailures", unlisted as u64)
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
    use domain::fakes::posts::{MemoryPostCache, MemoryTable, RecordedRedeliveries};

    fn deps() -> Deps<MemoryTable, RecordedRedeliveries, MemoryPostCache> {
        Deps {
            store: MemoryTable::default(),
            redeliveries: RecordedRedeliveries::default(),
            cache: Some(MemoryPostCache::new(10)),
        }
    }

    fn event(file: &str) -> LambdaEvent<SqsEvent> {
        let payload: SqsEvent = chassis::fixtures::event(file);
        let mut context = lambda_runtime::Context::default();
        context.deadline = (std::time::SystemTime::now() + Duration::from_secs(30))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        LambdaEvent::new(payload, context)
    }

    #[tokio::test]
    async fn sample_batch_persists_the_post_and_reports_the_poison_message() {
        let d = deps();
        let response = handle(&d, event("queue-drain-batch.json")).await.unwrap();
        let failed: Vec<&str> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["poison-1"]);
        assert_eq!(d.store.posts.lock().unwrap().len(), 1);
        // The poison message comes back at once, on its way to the dead-letter queue.
        assert_eq!(*d.redeliveries.0.lock().unwrap(), [("AQEBpoison-1".to_owned(), 0)]);
    }

    #[tokio::test]
    async fn a_record_without_a_message_id_fails_the_whole_batch() {
        let d = deps();
        let mut ev = event("queue-drain-batch.json");
        ev.payload.records[1].message_id = None;
        assert!(handle(&d, ev).await.is_err(), "the batch is retried whole");
        assert!(d.store.posts.lock().unwrap().is_empty(), "nothing written for a batch that fails");
        let mut ev = event("queue-drain-batch.json");
        ev.payload.records[0].message_id = Some(String::new());
        assert!(handle(&d, ev).await.is_err());
    }
}
