//! Fault 7: post-write processes are killed mid-request while clients retry under their
//! `Idempotency-Key`. To be sure requests are in flight when the kill lands, the fault proxy
//! holds each SendMessage answer for a while (SQS has the message by then): a killed request
//! has sent its post but never answered. The retry finds the claim in progress until the dead
//! invocation's deadline, then takes it over under the same post id. Every write that was ever
//! answered 201 is stored exactly once; none is stored twice.

use integration::faults::{Proxy, Stream, Watcher, Writes, kill_soon, reconcile, report, when_sent};
use integration::{stack_output, unique};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn post_write_killed_mid_request_with_client_retries() {
    let proxy = Proxy::from_env();
    proxy.reset().await;
    let function = stack_output("PostWriteFunctionName").await;
    let users = integration::writers("f7u", 8).await;
    let watcher = Watcher::start(&users).await;
    let writes = Arc::new(Writes::default());
    let stream = Stream::new(&users, 120, 6, unique("f7")).with_retries(12);
    let load = tokio::spawn(stream.run(Arc::clone(&writes)));
    when_sent(&writes, 15).await;
    proxy.configure(json!({"slow": 1.0, "slow_ms": 700, "only_target": ["SendMessage"]})).await;
    let mut kills = 0;
    for at in [30, 55, 80] {
        when_sent(&writes, at).await;
        kills += kill_soon(&function, Duration::from_secs(5)).await;
    }
    proxy.reset().await;
    load.await.unwrap();

    let figures = reconcile(&watcher, &users, &writes, Duration::from_secs(120)).await;
    // A killed request reaches its client as a gateway error or a broken connection.
    let cut = writes.count(|w| w.statuses.iter().any(|s| *s == 0 || (*s >= 500 && *s != 503)));
    let waited = writes.count(|w| w.statuses.contains(&409));
    report(
        &format!("post_write_killed(kills={kills},requests_cut={cut},retries_told_to_wait={waited})"),
        &figures,
    );
    assert!(kills > 0, "no post-write process was found to kill");
    assert!(cut > 0, "no request was cut off by a kill");
    assert_eq!(figures.attempted, 120);
    figures.assert_exact();
}
