//! Idempotency records on DynamoDB, key `id` (S): `status` (IN_PROGRESS | COMPLETED),
//! `request_hash`, `post_id` (N, the id the request writes under), `in_progress_until` (ms),
//! `response_status`, `response_body`, and `expires_at` (epoch seconds, the table's TTL
//! attribute).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::posts::StoreError;
use domain::posts::idempotency::{Claim, IdempotencyStore};

/// How long a completed answer is kept for retries.
pub const RECORD_TTL_S: u64 = 3_600;

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
) -> StoreError {
    StoreError(crate::aws::error_text(e))
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl IdempotencyStore for DynamoIdempotency {
    async fn claim(
        &self,
        key: &str,
        request_hash: &str,
        post_id: u64,
        now_ms: u64,
        in_progress_ms: u64,
    ) -> Result<Claim, StoreError> {
        match self.try_claim(key, request_hash, post_id, now_ms, in_progress_ms).await? {
            None => self.existing(key).await,
            Some(id) if id == post_id => Ok(Claim::Claimed { post_id }),
            // An unfinished claim of the same request was replaced: it may have sent its post to
            // SQS already, so this run writes under its id, recorded on the new claim first in
            // case this run does not finish either.
            Some(earlier) => {
                let adopt = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("id", AttributeValue::S(key.to_owned()))
                    .update_expression("SET post_id = :earlier")
                    .condition_expression("post_id = :offered")
                    .expression_attribute_values(":earlier", n(earlier))
                    .expression_attribute_values(":offered", n(post_id))
                    .send()
                    .await;
                match adopt {
                    Ok(_) => Ok(Claim::Claimed { post_id: earlier }),
                    // Another request took the key over meanwhile: it runs, not this one.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        Ok(Claim::InProgress)
                    }
                    Err(e) => Err(err(e)),
                }
            }
        }
    }

    async fn complete(
        &self,
        key: &str,
        request_hash: &str,
        status: u16,
        body: &str,
        expires_at_s: u64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("id", AttributeValue::S(key.to_owned()))
            .item("status", AttributeValue::S("COMPLETED".into()))
            .item("request_hash", AttributeValue::S(request_hash.to_owned()))
            .item("response_status", n(u64::from(status)))
            .item("response_body", AttributeValue::S(body.to_owned()))
            .item("expires_at", n(expires_at_s))
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn expire(&self, key: &str, post_id: u64) -> Result<(), StoreError> {
        let expired = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(key.to_owned()))
            .update_expression("SET in_progress_until = :zero")
            .condition_expression("#s = :in_progress AND post_id = :post_id")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":in_progress", AttributeValue::S("IN_PROGRESS".into()))
            .expression_attribute_values(":post_id", n(post_id))
            .send()
            .await;
        match expired {
            Ok(_) => Ok(()),
            // Completed, gone, or taken over by another request meanwhile: not this claim's to end.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok(())
            }
            Err(e) => Err(err(e)),
        }
    }
}

impl DynamoIdempotency {
    /// The conditional put of a claim. `Some(id)`: claimed; `id` is the post id of the unfinished
    /// claim of the same request it replaced, else `post_id`. `None`: the key is taken.
    async fn try_claim(
        &self,
        key: &str,
        request_hash: &str,
        post_id: u64,
        now_ms: u64,
        in_progress_ms: u64,
    ) -> Result<Option<u64>, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", AttributeValue::S(key.to_owned()))
            .item("status", AttributeValue::S("IN_PROGRESS".into()))
            .item("request_hash", AttributeValue::S(request_hash.to_owned()))
            .item("post_id", n(post_id))
            .item("in_progress_until", n(now_ms + in_progress_ms))
            .item("expires_at", n(now_ms / 1_000 + RECORD_TTL_S))
            // New, expired, or an in-progress claim whose invocation died.
            .condition_expression(
                "attribute_not_exists(id) OR expires_at < :now_s OR (#s = :in_progress AND in_progress_until < :now_ms)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":now_s", n(now_ms / 1_000))
            .expression_attribute_values(":now_ms", n(now_ms))
            .expression_attribute_values(":in_progress", AttributeValue::S("IN_PROGRESS".into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match put {
            Ok(out) => {
                let old = out.attributes.unwrap_or_default();
                let s = |k: &str| old.get(k).and_then(|v| v.as_s().ok()).map(String::as_str);
                let earlier = old.get("post_id").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok());
                let unfinished_same =
                    s("status") == Some("IN_PROGRESS") && s("request_hash") == Some(request_hash);
                Ok(Some(earlier.filter(|_| unfinished_same).unwrap_or(post_id)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Ok(None)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// The record that kept a claim out.
    async fn existing(&self, key: &str) -> Result<Claim, StoreError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(err)?
            .item
            .unwrap_or_default();
        let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Ok(match s("status").as_deref() {
            Some("COMPLETED") => Claim::Completed {
                request_hash: s("request_hash").unwrap_or_default(),
                status: item
                    .get("response_status")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(500),
                body: s("response_body").unwrap_or_default(),
            },
            // In progress, or gone again between the two calls: either way, not ours to run now.
            _ => Claim::InProgress,
        })
    }
}
