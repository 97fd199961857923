//! Posts written straight into the stack's posts table, one PutItem each, as the production
//! code never does (it persists through the drain's batches): the tests' seeding, and the
//! drain benchmark's one-write-per-message baseline. The item is the production adapter's
//! (`adapters::posts_table::to_item`), so a seeded post reads back as a drained one.

use domain::posts::{Post, StoreError};

/// The posts table of the stack under test.
#[derive(Debug, Clone)]
pub struct SeedTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl SeedTable {
    pub async fn of_stack() -> Self {
        Self::new(&crate::sdk().await, crate::stack_output("PostsTableName").await)
    }

    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self { client: aws_sdk_dynamodb::Client::new(sdk), table: table.into() }
    }

    /// Writes one post.
    pub async fn put(&self, post: &Post) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(adapters::posts_table::to_item(post)?))
            .send()
            .await
            .map_err(|e| StoreError(adapters::aws::error_text(e)))?;
        Ok(())
    }
}
