//! One batch of dead letters: each is re-sent or parked; the ones that could be neither are
//! reported failed, so SQS delivers them again (nothing is dropped).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chassis::errors::BatchError;
use domain::posts::dead_letter::{self, Action, DeadLetter, ParkedStore, Requeue};
use lambda_runtime::LambdaEvent;
use tracing::Instrument;

pub struct Deps<Q, P> {
    pub queue: Q,
    pub parked: P,
}

pub async fn handle<Q: Requeue, P: ParkedStore>(
    deps: &Deps<Q, P>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, BatchError> {
    let now = domain::clock_text::rfc3339_ms(domain::clock_text::now_unix_ms()).unwrap_or_default();
    let mut response = SqsBatchResponse::default();
    let (mut retried, mut parked) = (0u64, 0u64);
    // A record that cannot be reported alone fails the batch, or it would be deleted with it
    // (re-sending and parking are safe to repeat for the others).
    let letters: Option<Vec<DeadLetter>> = event.payload.records.iter().map(letter).collect();
    let Some(letters) = letters else {
        let index = event.payload.records.iter().position(|r| letter(r).is_none()).unwrap_or_default();
        tracing::error!(
            record = index,
            records = event.payload.records.len(),
            "dead letter without a message id: the batch fails whole"
        );
        return Err(BatchError::MissingMessageId { index });
    };
    for letter in &letters {
        let span = tracing::info_span!(
            "letter",
            requestId = %event.context.request_id,
            trace_id = letter.trace_id(),
            message_id = %letter.original_id(),
        );
        let outcome =
            dead_letter::handle(&deps.queue, &deps.parked, letter, &now).instrument(span.clone()).await;
        span.in_scope(|| match outcome {
            Ok(Action::Retry { attempt, delay_s }) => {
                retried += 1;
                tracing::info!(attempt, delay_s, "dead letter sent back");
            }
            Ok(Action::Park { reason, attempts }) => {
                parked += 1;
                tracing::warn!(attempts, reason, "dead letter parked");
            }
            Err(e) => {
                tracing::error!(error = %e, "dead letter neither sent back nor parked");
                response.add_failure(letter.message_id.clone());
            }
        });
    }
    chassis::metrics::Record::new("dlq-handler")
        .count("DeadLetters", event.payload.records.len() as u64)
        .count("MessagesRetried", retried)
        .count("MessagesParked", parked)
        .count("MessagesFailed", response.batch_item_failures.len() as u64)
        .property("request_id", event.context.request_id.clone())
        .emit();
    chassis::metrics::flush("dlq-handler", &event.context.request_id);
    Ok(response)
}

fn letter(record: &SqsMessage) -> Option<DeadLetter> {
    let message_id = record.message_id.clone().filter(|id| !id.is_empty())?;
    let attributes = record
        .message_attributes
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.string_value.clone()?)))
        .collect();
    Some(DeadLetter {
        message_id,
        body: record.body.clone().unwrap_or_default(),
        attributes,
        trace_header: record.attributes.get("AWSTraceHeader").cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::fakes::MemoryDeadLetters;

    fn event() -> LambdaEvent<SqsEvent> {
        let payload: SqsEvent = chassis::fixtures::event("queue-drain-batch.json");
        LambdaEvent::new(payload, lambda_runtime::Context::default())
    }

    #[tokio::test]
    async fn posts_go_back_and_poison_is_parked() {
        let fake = MemoryDeadLetters::default();
        let deps = Deps { queue: &fake, parked: &fake };
        let response = handle(&deps, event()).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(*fake.sent.lock().unwrap(), vec![("msg-1".to_owned(), 1, 5)]);
        let parked = fake.parked.lock().unwrap();
        assert_eq!(parked.len(), 1);
        assert_eq!(parked[0].0, "poison-1");
        assert!(parked[0].1.starts_with("permanent:"));
    }

    #[tokio::test]
    async fn what_can_be_neither_sent_nor_parked_is_reported() {
        let fake = MemoryDeadLetters::default();
        fake.down.store(true, std::sync::atomic::Ordering::SeqCst);
        let deps = Deps { queue: &fake, parked: &fake };
        let response = handle(&deps, event()).await.unwrap();
        assert_eq!(response.batch_item_failures.len(), 2);
    }

    #[tokio::test]
    async fn a_letter_without_a_message_id_fails_the_whole_batch() {
        let fake = MemoryDeadLetters::default();
        let deps = Deps { queue: &fake, parked: &fake };
        let mut ev = event();
        ev.payload.records[0].message_id = None;
        assert!(handle(&deps, ev).await.is_err());
        assert!(fake.sent.lock().unwrap().is_empty() && fake.parked.lock().unwrap().is_empty());
    }
}
