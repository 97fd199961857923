//! The attributes the two SQS senders set (post-write's send, dlq-handler's re-send): message
//! attributes, and the `AWSTraceHeader` system attribute that continues an X-Ray trace.

use aws_sdk_sqs::operation::send_message::builders::SendMessageFluentBuilder;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
};

/// The data type of text attributes.
pub const STRING: &str = "String";

/// A message attribute of `data_type` ("String", "Number").
pub fn value(data_type: &str, value: impl Into<String>) -> Result<MessageAttributeValue, String> {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .map_err(|e| e.to_string())
}

/// `send` carrying `header` as its `AWSTraceHeader`.
pub fn with_trace_header(
    send: SendMessageFluentBuilder,
    header: &str,
) -> Result<SendMessageFluentBuilder, String> {
    let v = MessageSystemAttributeValue::builder()
        .data_type(STRING)
        .string_value(header)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(send.message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, v))
}
