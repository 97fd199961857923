//! The posts table on DynamoDB: partition key `user_id` (S), sort key `post_id` (N).
//!
//! Item: `user_id`, `post_id`, `contents` (S), `created_at` (S, RFC 3339), `url` (S, absent
//! when none), `scrap` (M, the preview's fields; absent when none). A page is one Query with
//! `ScanIndexForward=false`; `post_id < :cursor` continues from a cursor.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use domain::posts::drain::PostBatchStore;
use domain::posts::{Post, PostStore, StoreError};
use std::collections::HashMap;

use crate::dynamo_item::{Item, number, string};

#[derive(Debug, Clone)]
pub struct DynamoPosts {
    client: Client,
    table: String,
}

impl DynamoPosts {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    async fn query(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
        ids_only: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        while items.len() < limit {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .scan_index_forward(false)
                .limit(i32::try_from(limit - items.len()).unwrap_or(i32::MAX))
                .expression_attribute_values(":u", AttributeValue::S(user_id.to_owned()))
                .set_exclusive_start_key(start.take());
            q = match before {
                Some(b) => q
                    .key_condition_expression("user_id = :u AND post_id < :b")
                    .expression_attribute_values(":b", AttributeValue::N(b.to_string())),
                None => q.key_condition_expression("user_id = :u"),
            };
            if ids_only {
                q = q.projection_expression("post_id");
            }
            let out = q.send().await.map_err(err)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        items.truncate(limit);
        Ok(items)
    }
}

impl PostStore for DynamoPosts {
    async fn page(&self, user_id: &str, before: Option<u64>, limit: usize) -> Result<Vec<Post>, StoreError> {
        Ok(self.query(user_id, before, limit, false).await?.iter().filter_map(from_item).collect())
    }

    async fn newest_ids(&self, user_id: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .query(user_id, None, limit, true)
            .await?
            .iter()
            .filter_map(|i| number(i, "post_id"))
            .collect())
    }

    async fn get_many(&self, user_id: &str, ids: &[u64]) -> Result<Vec<Post>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| {
                    HashMap::from([
                        ("user_id".to_owned(), AttributeValue::S(user_id.to_owned())),
                        ("post_id".to_owned(), AttributeValue::N(id.to_string())),
                    ])
                })
                .collect();
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError(e.to_string()))?;
            // Unprocessed keys (throttling) are retried a few times with a growing pause.
            for attempt in 0..5u32 {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request.clone())
                    .send()
                    .await
                    .map_err(err)?;
                if let Some(items) = out.responses.and_then(|mut r| r.remove(&self.table)) {
                    found.extend(items.iter().filter_map(from_item));
                }
                match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        request = rest;
                        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }
}

impl PostBatchStore for DynamoPosts {
    /// BatchWriteItem's limit.
    const MAX_BATCH: usize = 25;

    /// One BatchWriteItem of PutRequests. Overwriting is safe: an item is a pure function of its
    /// message, so a redelivered post rewrites the same bytes.
    async fn put_batch(&self, posts: &[Post]) -> Result<Vec<usize>, StoreError> {
        let writes: Vec<WriteRequest> = posts
            .iter()
            .map(|p| {
                let put = PutRequest::builder()
                    .set_item(Some(to_item(p)))
                    .build()
                    .map_err(|e| StoreError(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, StoreError>>()?;
        let out =
            self.client.batch_write_item().request_items(&self.table, writes).send().await.map_err(err)?;
        let unprocessed = out.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
        // Map what came back to the positions of the posts sent.
        Ok(unprocessed
            .iter()
            .filter_map(|w| w.put_request().map(|p| p.item()))
            .filter_map(|item| {
                let (uid, id) = (string(item, "user_id")?, number(item, "post_id")?);
                posts.iter().position(|p| p.user_id == uid && p.post_id == id)
            })
            .collect())
    }
}

fn err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> StoreError {
    StoreError(crate::aws::error_text(e))
}

pub fn to_item(post: &Post) -> Item {
    let mut item = HashMap::from([
        ("user_id".to_owned(), AttributeValue::S(post.user_id.clone())),
        ("post_id".to_owned(), AttributeValue::N(post.post_id.to_string())),
        ("contents".to_owned(), AttributeValue::S(post.contents.clone())),
        ("created_at".to_owned(), AttributeValue::S(post.created_at.clone())),
    ]);
    if let Some(url) = &post.url {
        item.insert("url".to_owned(), AttributeValue::S(url.clone()));
    }
    if let Some(scrap) = post.scrap.as_ref().and_then(|s| serde_json::to_value(s).ok()) {
        item.insert("scrap".to_owned(), json_to_attr(&scrap));
    }
    item
}

/// A post from an item; `None` for an item that is not one (logged).
pub fn from_item(item: &Item) -> Option<Post> {
    let post = Post {
        user_id: string(item, "user_id")?,
        post_id: number(item, "post_id")?,
        contents: string(item, "contents")?,
        url: string(item, "url"),
        scrap: item.get("scrap").map(attr_to_json).and_then(|v| serde_json::from_value(v).ok()),
        created_at: string(item, "created_at").unwrap_or_default(),
    };
    Some(post)
}

fn json_to_attr(v: &serde_json::Value) -> AttributeValue {
    use serde_json::Value;
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(json_to_attr).collect()),
        Value::Object(o) => AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), json_to_attr(v))).collect()),
    }
}

fn attr_to_json(a: &AttributeValue) -> serde_json::Value {
    use serde_json::Value;
    match a {
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => n.parse::<serde_json::Number>().map_or(Value::Null, Value::Number),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(l) => Value::Array(l.iter().map(attr_to_json).collect()),
        AttributeValue::M(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), attr_to_json(v))).collect()),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_with_and_without_preview() {
        let mut post = Post {
            user_id: "42".into(),
            post_id: 725_617_227_714_740_225,
            contents: "hello".into(),
            url: None,
            scrap: None,
            created_at: "2026-11-24T07:43:48.123Z".into(),
        };
        assert_eq!(from_item(&to_item(&post)), Some(post.clone()));
        post.url = Some("https://example.com/".into());
        post.scrap = Some(opengraph::Preview {
            title: Some("T".into()),
            image_width: Some(640),
            ..Default::default()
        });
        let item = to_item(&post);
        assert_eq!(item["post_id"].as_n().unwrap(), "725617227714740225");
        assert!(item["scrap"].as_m().is_ok());
        assert_eq!(from_item(&item), Some(post));
    }
}
