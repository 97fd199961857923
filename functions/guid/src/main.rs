//! The guid function: Snowflake ids over HTTP, under a worker id leased from DynamoDB.
//!
//! Cold start: configuration from the environment, the SDK client, and an issuer that leases
//! its worker id on first use. Each request is routed by [`api::handle`].

mod api;

use adapters::DynamoLeaseStore;
use domain::IdIssuer;
use lambda_http::{Error, run, service_fn};
use snowflake::SystemClock;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::observability();
    let config = wiring::ids::IdSettings::from_env(&chassis::Env::process())?;
    let sdk = adapters::aws::load(adapters::aws::Timeouts::default()).await;
    let store = DynamoLeaseStore::from_sdk(&sdk, &config.lease_table);
    let holder = config.holder();
    tracing::info!(holder, table = %config.lease_table, ttl_ms = config.issuer.ttl_ms, "guid function ready");
    let issuer = IdIssuer::new(store, SystemClock, holder, config.issuer);
    run(service_fn(|req| chassis::http::measured("guid", req, |req| api::handle(&issuer, req)))).await
}
