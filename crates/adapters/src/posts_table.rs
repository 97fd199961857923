//! The posts table on DynamoDB: partition key `user_id` (S), sort key `post_id` (N).
//!
//! Item: `user_id`, `post_id`, `contents` (S), `created_at` (S, RFC 3339), `url` (S, absent
//! when none), `scrap` (M, every field of the preview, NULL when none; absent when no preview),
//! converted by serde_dynamo from one struct ([`to_item`], [`from_item`]). A page is one Query
//! with `ScanIndexForward=false`; `post_id < :cursor` continues from a cursor.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use domain::posts::drain::PostBatchStore;
use domain::posts::{Post, PostStore, StoreError};
use opengraph::Preview;
use serde::{Deserialize, Serialize};
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
        Ok(self.query(user_id, before, limit, false).await?.into_iter().filter_map(from_item).collect())
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
                    found.extend(items.into_iter().filter_map(from_item));
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
                    .set_item(Some(to_item(p)?))
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

/// The stored item. [`Post`] serialises ids as decimal strings (for JSON clients); the table's
/// sort key is a number, so the item has its own shape. `url` and `scrap` are left out when
/// `None`, as items have always been written; inside `scrap` every field is written, NULL when
/// `None` (the preview serialises every field).
#[derive(Debug, Serialize, Deserialize)]
struct PostItem {
    user_id: String,
    post_id: u64,
    contents: String,
    /// An item without one (or with one of another type) reads as `""`, as it always has.
    #[serde(default, deserialize_with = "or_default")]
    created_at: String,
    #[serde(default, deserialize_with = "or_default", skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// A preview that does not read is dropped, not the post with it.
    #[serde(default, deserialize_with = "or_default", skip_serializing_if = "Option::is_none")]
    scrap: Option<Preview>,
}

/// The value, or its default where the attribute holds something else: the optional parts of
/// a post never keep the post itself from reading.
fn or_default<'de, D: serde::Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(T::deserialize(d).unwrap_or_default())
}

impl From<&Post> for PostItem {
    fn from(p: &Post) -> Self {
        Self {
            user_id: p.user_id.clone(),
            post_id: p.post_id,
            contents: p.contents.clone(),
            created_at: p.created_at.clone(),
            url: p.url.clone(),
            scrap: p.scrap.clone(),
        }
    }
}

impl From<PostItem> for Post {
    fn from(i: PostItem) -> Self {
        Self {
            user_id: i.user_id,
            post_id: i.post_id,
            contents: i.contents,
            url: i.url,
            scrap: i.scrap,
            created_at: i.created_at,
        }
    }
}

/// The item a post is stored as (the drain's batches and the tests' seeding alike).
pub fn to_item(post: &Post) -> Result<Item, StoreError> {
    serde_dynamo::to_item(PostItem::from(post))
        .map_err(|e| StoreError(format!("post {} as an item: {e}", post.post_id)))
}

/// A post from an item; `None` for an item that is not one (logged, and left out of the answer).
pub fn from_item(item: Item) -> Option<Post> {
    let key = (string(&item, "user_id"), number(&item, "post_id"));
    match serde_dynamo::from_item::<_, PostItem>(item) {
        Ok(item) => Some(item.into()),
        Err(e) => {
            tracing::warn!(user_id = ?key.0, post_id = ?key.1, error = %e, "posts table item is not a post; skipped");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo_item::{n, s};

    fn post(url: Option<&str>, scrap: Option<Preview>) -> Post {
        Post {
            user_id: "42".into(),
            post_id: 725_617_227_714_740_225,
            contents: "hello".into(),
            url: url.map(str::to_owned),
            scrap,
            created_at: "2026-11-24T07:43:48.123Z".into(),
        }
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    fn null() -> AttributeValue {
        AttributeValue::Null(true)
    }

    /// The stored format, written out: what items already in tables hold and what code that
    /// reads the table expects. `url` and `scrap` absent when none; inside `scrap` every field,
    /// NULL when none, numbers as N.
    #[test]
    fn items_are_the_stored_format() {
        let key = [
            ("user_id", s("42")),
            ("post_id", n(725_617_227_714_740_225)),
            ("contents", s("hello")),
            ("created_at", s("2026-11-24T07:43:48.123Z")),
        ];
        assert_eq!(to_item(&post(None, None)).unwrap(), item(&key));

        let preview = Preview { title: Some("T".into()), image_width: Some(640), ..Default::default() };
        let scrap = item(&[
            ("title", s("T")),
            ("description", null()),
            ("url", null()),
            ("image", null()),
            ("image_width", n(640)),
            ("image_height", null()),
            ("type", null()),
            ("site_name", null()),
            ("author", null()),
            ("published_time", null()),
            ("lang", null()),
            ("favicon", null()),
        ]);
        let mut full = item(&key);
        full.insert("url".into(), s("https://example.com/"));
        full.insert("scrap".into(), AttributeValue::M(scrap.clone()));
        assert_eq!(to_item(&post(Some("https://example.com/"), Some(preview.clone()))).unwrap(), full);

        let mut url_only = item(&key);
        url_only.insert("url".into(), s("https://example.com/"));
        assert_eq!(to_item(&post(Some("https://example.com/"), None)).unwrap(), url_only);

        let mut scrap_only = item(&key);
        scrap_only.insert("scrap".into(), AttributeValue::M(scrap));
        assert_eq!(to_item(&post(None, Some(preview))).unwrap(), scrap_only);
    }

    #[test]
    fn items_round_trip_with_and_without_preview() {
        let full = Preview {
            title: Some("T".into()),
            description: Some("D".into()),
            url: Some("https://example.com/a".into()),
            image: Some("https://example.com/i.png".into()),
            image_width: Some(640),
            image_height: Some(480),
            r#type: Some("article".into()),
            site_name: Some("S".into()),
            author: Some("A".into()),
            published_time: Some("2026-01-01T00:00:00Z".into()),
            lang: Some("en".into()),
            favicon: Some("https://example.com/f.ico".into()),
        };
        for p in [
            post(None, None),
            post(Some("https://example.com/"), None),
            post(None, Some(Preview::default())),
            post(Some("https://example.com/"), Some(full)),
            Post {
                post_id: u64::MAX,
                contents: String::new(),
                created_at: String::new(),
                ..post(None, None)
            },
        ] {
            assert_eq!(from_item(to_item(&p).unwrap()), Some(p));
        }
    }

    /// What the reader has always accepted: no `created_at`, a NULL `url` or `scrap`, a
    /// preview with fewer fields (an older preview) or more (a newer one), and optional parts
    /// of another type (dropped, the post kept).
    #[test]
    fn items_with_missing_or_null_parts_read() {
        let key = [("user_id", s("42")), ("post_id", n(7)), ("contents", s("c"))];
        let bare = Post { post_id: 7, contents: "c".into(), created_at: String::new(), ..post(None, None) };
        assert_eq!(from_item(item(&key)), Some(bare.clone()));
        let mut nulls = item(&key);
        nulls.insert("url".into(), null());
        nulls.insert("scrap".into(), null());
        assert_eq!(from_item(nulls), Some(bare.clone()));
        let mut partial = item(&key);
        partial.insert("scrap".into(), AttributeValue::M(item(&[("title", s("T")), ("new_field", s("x"))])));
        let title = Preview { title: Some("T".into()), ..Default::default() };
        assert_eq!(from_item(partial), Some(Post { scrap: Some(title), ..bare.clone() }));
        let mut mistyped = item(&key);
        mistyped.insert("url".into(), n(1));
        mistyped.insert("created_at".into(), n(1));
        mistyped
            .insert("scrap".into(), AttributeValue::M(item(&[("title", s("T")), ("image_width", s("640"))])));
        assert_eq!(from_item(mistyped), Some(bare));
    }

    #[test]
    fn items_that_are_not_posts_read_as_none() {
        assert_eq!(from_item(item(&[("user_id", s("42"))])), None);
        assert_eq!(from_item(item(&[("user_id", s("42")), ("post_id", s("7")), ("contents", s("c"))])), None);
        assert_eq!(from_item(item(&[("user_id", s("42")), ("post_id", n(7)), ("contents", n(1))])), None);
    }
}
