//! The posts queue on SQS. Body: `{"v": 1, "post": {...}}`; message attribute `trace_id` (see
//! [`domain::posts::Trace`]) and, when the request was traced by X-Ray, the system attribute
//! `AWSTraceHeader`, so the drain's logs continue the request's trace.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
};
use domain::posts::{Post, PostQueue, QueueError, TRACE_ATTRIBUTE, Trace};
use serde::Serialize;

#[derive(Serialize)]
struct Envelope<'a> {
    v: u8,
    post: &'a Post,
}

#[derive(Debug, Clone)]
pub struct SqsPosts {
    client: Client,
    queue_url: String,
}

impl SqsPosts {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self { client, queue_url: queue_url.into() }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), queue_url)
    }
}

/// The message body for a post.
pub fn body(post: &Post) -> Result<String, QueueError> {
    serde_json::to_string(&Envelope { v: 1, post }).map_err(|e| QueueError(e.to_string()))
}

impl PostQueue for SqsPosts {
    async fn send(&self, post: &Post, trace: &Trace) -> Result<(), QueueError> {
        let mut send = self.client.send_message().queue_url(&self.queue_url).message_body(body(post)?);
        if !trace.trace_id.is_empty() {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(&trace.trace_id)
                .build()
                .map_err(|e| QueueError(e.to_string()))?;
            send = send.message_attributes(TRACE_ATTRIBUTE, attr);
        }
        if let Some(xray) = &trace.xray_trace_id {
            let attr = MessageSystemAttributeValue::builder()
                .data_type("String")
                .string_value(xray)
                .build()
                .map_err(|e| QueueError(e.to_string()))?;
            send = send.message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, attr);
        }
        match send.send().await {
            Ok(_) => {
                chassis::metrics::count("QueueSends", &[], 1);
                Ok(())
            }
            Err(e) => {
                chassis::metrics::count("QueueSendFailures", &[], 1);
                Err(QueueError(crate::aws::error_text(e)))
            }
        }
    }
}
