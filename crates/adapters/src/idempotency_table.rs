//! Idempotency records on DynamoDB, key `id` (S): `status` (IN_PROGRESS | COMPLETED),
//! `request_hash`, `post_id` (N, the id the request writes under), `in_progress_until` (ms),
//! `response_status`, `response_body`, and `expires_at` (epoch seconds, the table's TTL
//! attribute).

use crate::dynamo_item::{Item, is_condition_failed, n, number, s, string};
use aws_sdk_dynamodb::Client;
use domain::posts::idempotency::{IdempotencyStore, Put, RECORD_TTL_S, Record, RecordsError};

#[derive(Debug, Clone)]
pub struct DynamoIdempotency {
    client: Client,
    table: String,
}

impl DynamoIdempotency {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), table: table.into() }
    }
}

fn err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> RecordsError {
    RecordsError(crate::aws::error_text(e))
}

/// The record an item holds (`None` for an item with neither status).
fn record(item: &Item) -> Option<Record> {
    let request_hash = string(item, "request_hash").unwrap_or_default();
    match string(item, "status").as_deref() {
        Some("IN_PROGRESS") => Some(Record::InProgress { request_hash, post_id: number(item, "post_id")? }),
        Some("COMPLETED") => Some(Record::Completed {
            request_hash,
            status: number(item, "response_status").and_then(|v| u16::try_from(v).ok()).unwrap_or(500),
            body: string(item, "response_body").unwrap_or_default(),
        }),
        _ => None,
    }
}

impl IdempotencyStore for DynamoIdempotency {
    async fn put_claim(
        &self,
        key: &str,
        request_hash: &str,
        post_id: u64,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<Put, RecordsError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", s(key))
            .item("status", s("IN_PROGRESS"))
            .item("request_hash", s(request_hash))
            .item("post_id", n(post_id))
            .item("in_progress_until", n(until_ms))
            .item("expires_at", n(now_ms / 1_000 + RECORD_TTL_S))
            // New, past its TTL (DynamoDB deletes late), or an in-progress claim that ran out.
            .condition_expression(
                "attribute_not_exists(id) OR expires_at < :now_s OR (#s = :in_progress AND in_progress_until < :now_ms)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":now_s", n(now_ms / 1_000))
            .expression_attribute_values(":now_ms", n(now_ms))
            .expression_attribute_values(":in_progress", s("IN_PROGRESS"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match put {
            Ok(out) => Ok(Put::Claimed { replaced: out.attributes.as_ref().and_then(record) }),
            Err(e) if is_condition_failed(&e) => Ok(Put::Refused { held: self.held(key).await? }),
            Err(e) => Err(err(e)),
        }
    }

    async fn swap_post_id(&self, key: &str, from: u64, to: u64) -> Result<bool, RecordsError> {
        let swap = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(key))
            .update_expression("SET post_id = :to")
            .condition_expression("post_id = :from")
            .expression_attribute_values(":to", n(to))
            .expression_attribute_values(":from", n(from))
            .send()
            .await;
        match swap {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(err(e)),
        }
    }

    async fn complete(
        &self,
        key: &str,
        request_hash: &str,
        status: u16,
        body: &str,
        expires_at_s: u64,
    ) -> Result<(), RecordsError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", s(key))
            .item("status", s("COMPLETED"))
            .item("request_hash", s(request_hash))
            .item("response_status", n(u64::from(status)))
            .item("response_body", s(body))
            .item("expires_at", n(expires_at_s))
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn expire(&self, key: &str, post_id: u64) -> Result<(), RecordsError> {
        let expired = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(key))
            .update_expression("SET in_progress_until = :zero")
            .condition_expression("#s = :in_progress AND post_id = :post_id")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":in_progress", s("IN_PROGRESS"))
            .expression_attribute_values(":post_id", n(post_id))
            .send()
            .await;
        match expired {
            // Completed, gone, or taken over by another request meanwhile: not this claim's to end.
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }
}

impl DynamoIdempotency {
    /// The record that kept a claim out, read after the refusal.
    async fn held(&self, key: &str) -> Result<Option<Record>, RecordsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(err)?;
        Ok(out.item.as_ref().and_then(record))
    }
}
