//! The functions' JSON log lines, read back from the stack's log groups.

use crate::{sdk, stack_output};

/// The JSON log lines of the log group (a stack output name, e.g. `QueueDrainLogGroupName`)
/// since `since_ms` (epoch ms) that contain `term`, parsed.
pub async fn log_lines(group_output: &str, since_ms: u64, term: &str) -> Vec<serde_json::Value> {
    log_events(&stack_output(group_output).await, since_ms, Some(term)).await
}

/// Every JSON log line of the log group `group` since `since_ms` (epoch ms), or only those that
/// contain `term`, parsed.
pub async fn log_events(group: &str, since_ms: u64, term: Option<&str>) -> Vec<serde_json::Value> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk().await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name(group)
            .start_time(i64::try_from(since_ms).unwrap_or(i64::MAX))
            .set_filter_pattern(term.map(|t| format!("\"{t}\"")))
            .set_next_token(token.clone())
            .send()
            .await
            .expect("log events");
        for e in page.events() {
            if let Some(v) = e.message().and_then(|m| serde_json::from_str(m.trim()).ok()) {
                out.push(v);
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() || page.events().is_empty() {
            return out;
        }
    }
}
