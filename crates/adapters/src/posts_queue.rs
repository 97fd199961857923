//! The posts queue on SQS. Body: `{"v": 1, "post": {...}}`; message attribute `trace_id` (see
//! [`domain::posts::Trace`]) and, when the request was traced by X-Ray, the system attribute
//! `AWSTraceHeader`, so the drain's logs continue the request's trace.
//!
//! A message over [`MAX_MESSAGE_BYTES`] is refused here, as [`SendError::TooLarge`], without
//! calling SQS: SQS would refuse it anyway, and the writer can then send the post without its
//! preview instead of failing it.

use crate::sqs_attributes::{self, STRING as STRING_TYPE};
use aws_sdk_sqs::Client;
use domain::posts::{Post, PostQueue, QueueError, SendError, TRACE_ATTRIBUTE, Trace};

/// The most SQS takes in one message, in bytes: the body plus every message attribute (name,
/// data type and value). System attributes (`AWSTraceHeader`) do not count. This is SQS's
/// long-standing 256 KiB limit; AWS has since raised the maximum to 1 MiB, so this stays a
/// safe bound for queues (and emulators) configured either way.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

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

/// The message body for a post (`domain::posts::message`).
pub fn body(post: &Post) -> Result<String, QueueError> {
    domain::posts::message::encode(post).map_err(QueueError)
}

/// The size SQS counts for a message with this body and trace: the body and the `trace_id`
/// attribute (name, type and value), in UTF-8 bytes.
pub fn message_bytes(body: &str, trace: &Trace) -> usize {
    let attribute = if trace.trace_id.is_empty() {
        0
    } else {
        TRACE_ATTRIBUTE.len() + STRING_TYPE.len() + trace.trace_id.len()
    };
    body.len() + attribute
}

/// The body to send for `post`, or `TooLarge` when the message would be over the limit.
pub fn checked_body(post: &Post, trace: &Trace) -> Result<String, SendError> {
    let body = body(post)?;
    let bytes = message_bytes(&body, trace);
    if bytes > MAX_MESSAGE_BYTES {
        return Err(SendError::TooLarge { bytes, limit: MAX_MESSAGE_BYTES });
    }
    Ok(body)
}

impl PostQueue for SqsPosts {
    async fn send(&self, post: &Post, trace: &Trace) -> Result<(), SendError> {
        let body = checked_body(post, trace).inspect_err(|e| {
            if matches!(e, SendError::TooLarge { .. }) {
                chassis::metrics::count("QueueSendsTooLarge", &[], 1);
            }
        })?;
        let mut send = self.client.send_message().queue_url(&self.queue_url).message_body(body);
        if !trace.trace_id.is_empty() {
            let attr = sqs_attributes::value(STRING_TYPE, &trace.trace_id).map_err(QueueError)?;
            send = send.message_attributes(TRACE_ATTRIBUTE, attr);
        }
        if let Some(xray) = &trace.xray_trace_id {
            send = sqs_attributes::with_trace_header(send, xray).map_err(QueueError)?;
        }
        match send.send().await {
            Ok(_) => {
                chassis::metrics::count("QueueSends", &[], 1);
                Ok(())
            }
            Err(e) => {
                chassis::metrics::count("QueueSendFailures", &[], 1);
                Err(QueueError(crate::aws::error_text(e)).into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::posts::model::MAX_CONTENTS_CHARS;
    use url::Url;

    fn post(contents: String, scrap: Option<opengraph::Preview>) -> Post {
        Post {
            user_id: "u".repeat(64),
            post_id: u64::MAX,
            contents,
            url: Some(format!("https://example.com/{}", "a".repeat(2_000))),
            scrap,
            created_at: "2024-11-23T22:13:20.000Z".into(),
        }
    }

    #[test]
    fn size_counts_the_body_and_the_trace_attribute_not_the_xray_header() {
        let none = Trace::default();
        assert_eq!(message_bytes("{}", &none), 2);
        let traced = Trace { trace_id: "abc".into(), xray_trace_id: Some("Root=1-x".repeat(100)) };
        assert_eq!(message_bytes("{}", &traced), 2 + "trace_id".len() + "String".len() + 3);
        assert_eq!(message_bytes("é", &none), 2, "bytes, not characters");
    }

    #[test]
    fn a_message_over_the_limit_is_refused_at_the_limit_it_is_sent() {
        let empty = body(&post(String::new(), None)).unwrap().len();
        let trace = Trace { trace_id: "t".repeat(32), ..Trace::default() };
        let attribute = message_bytes("", &trace);
        let fill = MAX_MESSAGE_BYTES - empty - attribute;
        assert!(checked_body(&post("x".repeat(fill), None), &trace).is_ok());
        assert_eq!(
            checked_body(&post("x".repeat(fill + 1), None), &trace),
            Err(SendError::TooLarge { bytes: MAX_MESSAGE_BYTES + 1, limit: MAX_MESSAGE_BYTES })
        );
    }

    #[test]
    fn a_hostile_page_cannot_push_a_maximal_post_over_the_limit() {
        // The largest valid post (contents at the cap, in 4-byte characters that JSON keeps
        // as they are) with the preview of a page whose every field is a megabyte.
        let huge = "😀 ".repeat(350_000);
        let long_url = format!("https://cdn.example.com/{}", "i".repeat(1_000_000));
        let html = format!(
            r#"<html lang="{huge}"><head><meta property="og:title" content="{huge}">
            <meta property="og:description" content="{huge}"><meta property="og:type" content="{huge}">
            <meta property="og:image" content="{long_url}"><meta property="og:site_name" content="{huge}">
            <meta name="author" content="{huge}"><meta property="article:published_time" content="{huge}">
            <link rel="icon" href="{long_url}"></head></html>"#
        );
        let page = Url::parse("https://example.com/p").unwrap();
        let preview = opengraph::extract(html.as_bytes(), &page, Some("text/html"));
        let post = post("😀".repeat(MAX_CONTENTS_CHARS), Some(preview));
        let trace = Trace { trace_id: "t".repeat(64), xray_trace_id: None };
        let sent = checked_body(&post, &trace).unwrap();
        assert!(sent.len() < MAX_MESSAGE_BYTES / 8, "{} bytes", sent.len());
    }
}
