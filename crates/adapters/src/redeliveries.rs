//! Early redelivery of failed post messages: SQS ChangeMessageVisibilityBatch on the posts
//! queue, ten entries per call (SQS's batch limit), the calls of one batch at once.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;
use domain::posts::QueueError;
use domain::posts::drain::Redeliveries;

/// Entries per ChangeMessageVisibilityBatch call.
const ENTRIES_PER_CALL: usize = 10;

#[derive(Debug, Clone)]
pub struct SqsRedeliveries {
    client: Client,
    queue_url: String,
}

impl SqsRedeliveries {
    pub fn from_sdk(sdk: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self { client: Client::new(sdk), queue_url: queue_url.into() }
    }
}

impl Redeliveries for SqsRedeliveries {
    async fn redeliver(&self, after: &[(String, u32)]) -> Result<(), QueueError> {
        let calls = after.chunks(ENTRIES_PER_CALL).map(|chunk| async move {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, (handle, seconds))| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .visibility_timeout(i32::try_from(*seconds).unwrap_or(i32::MAX))
                        .build()
                        .map_err(|e| QueueError(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| QueueError(crate::aws::error_text(e)))?;
            // A message whose receipt is stale (already redelivered) needs nothing more.
            match out.failed().iter().find(|f| f.code() != "ReceiptHandleIsInvalid") {
                Some(f) => Err(QueueError(format!(
                    "{} of {} not changed: {} {}",
                    out.failed().len(),
                    chunk.len(),
                    f.code(),
                    f.message().unwrap_or("")
                ))),
                None => Ok(()),
            }
        });
        futures_util::future::join_all(calls).await.into_iter().collect()
    }
}
