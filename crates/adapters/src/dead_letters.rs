//! Dead letters: re-sent to the posts queue with a delay (SQS), or parked (DynamoDB).
//!
//! Parked table, key `id` (S, the message's original id): `reason`, `body`, `attributes` (M of
//! S), `attempts` (N), `first_seen` / `last_seen` (S, RFC 3339).

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::MessageAttributeValue;
use domain::posts::dead_letter::{DeadLetter, DeadLetterError, Parked, ParkedStore, Requeue};
use std::collections::HashMap;

fn sqs_err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_sqs::error::SdkError<E, R>,
) -> DeadLetterError {
    DeadLetterError(crate::aws::error_text(e))
}

fn ddb_err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> DeadLetterError {
    DeadLetterError(crate::aws::error_text(e))
}

fn attr(data_type: &str, value: impl Into<String>) -> Result<MessageAttributeValue, DeadLetterError> {
    crate::sqs_attributes::value(data_type, value).map_err(DeadLetterError)
}

/// Sends messages back to the posts queue.
#[derive(Debug, Clone)]
pub struct SqsRequeue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsRequeue {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self { client: aws_sdk_sqs::Client::new(sdk), queue_url: queue_url.into() }
    }
}

impl Requeue for SqsRequeue {
    async fn send(&self, letter: &DeadLetter, attempt: u32, delay_s: u32) -> Result<(), DeadLetterError> {
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(&letter.body)
            .delay_seconds(i32::try_from(delay_s).unwrap_or(900))
            .message_attributes("attempt", attr("Number", attempt.to_string())?)
            .message_attributes("original_message_id", attr("String", letter.original_id())?);
        if !letter.trace_id().is_empty() {
            send =
                send.message_attributes(domain::posts::TRACE_ATTRIBUTE, attr("String", letter.trace_id())?);
        }
        if let Some(t) = &letter.trace_header {
            send = crate::sqs_attributes::with_trace_header(send, t).map_err(DeadLetterError)?;
        }
        send.send().await.map_err(sqs_err)?;
        Ok(())
    }
}

/// The parked-messages table.
#[derive(Debug, Clone)]
pub struct DynamoParked {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoParked {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: aws_sdk_dynamodb::Client::new(sdk), table: table.into() }
    }

    /// Every parked message (a Scan: an operator's tool, not a request path).
    pub async fn list(&self) -> Result<Vec<Parked>, DeadLetterError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(ddb_err)?;
            out.extend(page.items().iter().filter_map(from_item));
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Parked>, DeadLetterError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(ddb_err)?;
        Ok(out.item.as_ref().and_then(from_item))
    }

    pub async fn delete(&self, id: &str) -> Result<(), DeadLetterError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .send()
            .await
            .map_err(ddb_err)?;
        Ok(())
    }
}

impl ParkedStore for DynamoParked {
    async fn park(
        &self,
        letter: &DeadLetter,
        reason: &str,
        attempts: u32,
        now: &str,
    ) -> Result<(), DeadLetterError> {
        let attributes: HashMap<String, AttributeValue> =
            letter.attributes.iter().map(|(k, v)| (k.clone(), AttributeValue::S(v.clone()))).collect();
        self.client
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(letter.original_id().to_owned()))
            .update_expression(
                "SET reason = :r, body = :b, #a = :a, attempts = :n, last_seen = :now, first_seen = if_not_exists(first_seen, :now)",
            )
            .expression_attribute_names("#a", "attributes")
            .expression_attribute_values(":r", AttributeValue::S(reason.to_owned()))
            .expression_attribute_values(":b", AttributeValue::S(letter.body.clone()))
            .expression_attribute_values(":a", AttributeValue::M(attributes))
            .expression_attribute_values(":n", AttributeValue::N(attempts.to_string()))
            .expression_attribute_values(":now", AttributeValue::S(now.to_owned()))
            .send()
            .await
            .map_err(ddb_err)?;
        Ok(())
    }
}

/// Sends a parked message back to the posts queue (attempt count reset, original id kept) and,
/// once that succeeded, deletes its record. The drain writes idempotently, so replaying a
/// message whose post was in fact persisted stores nothing new.
pub async fn replay(parked: &DynamoParked, queue: &SqsRequeue, id: &str) -> Result<(), DeadLetterError> {
    let p = parked.get(id).await?.ok_or_else(|| DeadLetterError(format!("no parked message {id}")))?;
    let mut attributes = p.attributes.clone();
    attributes.remove("attempt");
    attributes.insert("original_message_id".into(), p.id.clone());
    let letter = DeadLetter { message_id: p.id.clone(), body: p.body, attributes, trace_header: None };
    queue.send(&letter, 0, 0).await?;
    parked.delete(id).await
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Parked> {
    let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    Some(Parked {
        id: s("id")?,
        reason: s("reason").unwrap_or_default(),
        body: s("body").unwrap_or_default(),
        attributes: item
            .get("attributes")
            .and_then(|v| v.as_m().ok())
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone()))).collect())
            .unwrap_or_default(),
        attempts: item.get("attempts").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0),
        first_seen: s("first_seen").unwrap_or_default(),
        last_seen: s("last_seen").unwrap_or_default(),
    })
}
