//! Worker leases in a DynamoDB table keyed by `worker` (N, the slot `0..1024`).
//!
//! Item: `worker`, `holder`, `expires_at` and `last_ts` (Unix ms). Every change is one
//! conditional `UpdateItem`, so two instances can never both win a slot:
//!
//! - acquire: `attribute_not_exists(worker) OR expires_at < :now`, returning the old item so the
//!   new holder learns the previous `last_ts` atomically with taking the slot;
//! - renew: `holder = :me AND expires_at = :old`, so a holder whose slot changed hands while it
//!   was frozen finds out instead of extending someone else's lease.
//!
//! To find free slots, acquire reads the table (one consistent Scan of at most 1,024 small
//! items, only at cold start or after a lost lease) and tries the free ones in random order, so
//! concurrent cold starts rarely race for the same slot.

use crate::dynamo_item::{is_condition_failed, n, number};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use domain::{Lease, LeaseError, LeaseStore};
use rand::seq::SliceRandom;
use snowflake::WorkerSlot;
use snowflake::layout::SLOT_COUNT;
use std::collections::{HashMap, HashSet};

/// Rounds of scan-then-claim before acquire gives up as contended.
const ACQUIRE_ROUNDS: usize = 6;
/// Free slots tried per round before the free list is read again.
const TRIES_PER_ROUND: usize = 24;

#[derive(Debug, Clone)]
pub struct DynamoLeaseStore {
    client: Client,
    table: String,
}

impl DynamoLeaseStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// A store on a client built from `sdk`.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(sdk), table)
    }

    /// Slots whose lease is live at `now_ms`.
    async fn live_slots(&self, now_ms: u64) -> Result<HashSet<u16>, LeaseError> {
        let mut live = HashSet::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .projection_expression("#w, expires_at")
                .expression_attribute_names("#w", "worker")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                if let (Some(w), Some(exp)) = (number(item, "worker"), number(item, "expires_at"))
                    && exp >= now_ms
                {
                    live.insert(u16::try_from(w).unwrap_or(u16::MAX));
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(live),
            }
        }
    }

    /// Tries to take `slot`; `Ok(None)` when someone else holds it.
    async fn claim(
        &self,
        slot: WorkerSlot,
        holder: &str,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Result<Option<Lease>, LeaseError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("worker", n(u64::from(slot.index())))
            .update_expression("SET holder = :me, expires_at = :end, last_ts = :end, acquired_at = :now")
            .condition_expression("attribute_not_exists(#w) OR expires_at < :now")
            .expression_attribute_names("#w", "worker")
            .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
            .expression_attribute_values(":end", n(expires_at_ms))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let floor_ms = out.attributes.as_ref().and_then(|old| number(old, "last_ts")).unwrap_or(0);
                Ok(Some(Lease { slot, holder: holder.to_owned(), expires_at_ms, floor_ms }))
            }
            Err(e) if is_condition_failed(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }
}

impl LeaseStore for DynamoLeaseStore {
    async fn acquire(&self, holder: &str, now_ms: u64, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        let result = self.acquire_slot(holder, now_ms, expires_at_ms).await;
        let metric = match &result {
            Ok(_) => "LeaseAcquisitions",
            Err(LeaseError::AllTaken(_)) => "LeaseRefusals",
            Err(_) => "LeaseErrors",
        };
        chassis::metrics::count(metric, &[], 1);
        result
    }

    async fn renew(&self, lease: &Lease, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        let result = self.renew_slot(lease, expires_at_ms).await;
        let metric = match &result {
            Ok(_) => "LeaseRenewals",
            Err(LeaseError::Lost(_)) => "LeasesLost",
            Err(_) => "LeaseErrors",
        };
        chassis::metrics::count(metric, &[], 1);
        result
    }
}

impl DynamoLeaseStore {
    async fn acquire_slot(&self, holder: &str, now_ms: u64, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        for _ in 0..ACQUIRE_ROUNDS {
            let live = self.live_slots(now_ms).await?;
            let mut free: Vec<WorkerSlot> =
                (0..SLOT_COUNT).filter(|s| !live.contains(s)).filter_map(WorkerSlot::from_index).collect();
            if free.is_empty() {
                return Err(LeaseError::AllTaken(SLOT_COUNT));
            }
            free.shuffle(&mut rand::rng());
            for slot in free.into_iter().take(TRIES_PER_ROUND) {
                if let Some(lease) = self.claim(slot, holder, now_ms, expires_at_ms).await? {
                    return Ok(lease);
                }
            }
        }
        Err(LeaseError::Unavailable("every free worker slot tried was taken first".into()))
    }

    async fn renew_slot(&self, lease: &Lease, expires_at_ms: u64) -> Result<Lease, LeaseError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("worker", n(u64::from(lease.slot.index())))
            .update_expression("SET expires_at = :end, last_ts = :end")
            .condition_expression("holder = :me AND expires_at = :old")
            .expression_attribute_values(":me", AttributeValue::S(lease.holder.clone()))
            .expression_attribute_values(":old", n(lease.expires_at_ms))
            .expression_attribute_values(":end", n(expires_at_ms))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Lease { expires_at_ms, ..lease.clone() }),
            Err(e) if is_condition_failed(&e) => Err(LeaseError::Lost(lease.slot.index())),
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> LeaseError {
    LeaseError::Unavailable(crate::aws::error_text(e))
}
