//! Fault 2: queue-drain processes are killed in the middle of batches; the emulator starts new
//! ones and SQS redelivers. Every accepted post is persisted exactly once.

use integration::faults::{Writes, function_pids, reconcile, report, when_sent, write_stream};
use integration::{stack_output, unique};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn queue_drain_killed_mid_batch() {
    let drain = stack_output("QueueDrainFunctionName").await;
    let users = integration::writers("f2u", 10).await;
    let writes = Arc::new(Writes::default());
    let load = tokio::spawn(write_stream(users.clone(), 300, 8, unique("f2"), Arc::clone(&writes)));
    let mut kills = 0;
    for at in [50, 120, 190, 260] {
        when_sent(&writes, at).await;
        for pid in function_pids(&drain) {
            if std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .is_ok_and(|s| s.success())
            {
                kills += 1;
            }
        }
    }
    load.await.unwrap();
    assert!(kills > 0, "no queue-drain process was found to kill");
    let figures = reconcile(&users, &writes, Duration::from_secs(90)).await;
    report(&format!("queue_drain_killed(kills={kills})"), &figures);
    assert_eq!((figures.lost, figures.duplicates, figures.phantoms), (0, 0, 0), "{figures:?}");
    assert_eq!(figures.accepted, 300);
}
