//! One redis-server of the local stack, stopped, frozen and brought back by the cache faults.

use std::time::Duration;

/// One redis-server of the local stack, to stop, freeze and bring back as it was.
pub struct RedisNode {
    pub addr: String,
    conn: redis::aio::MultiplexedConnection,
    pidfile: String,
    logfile: String,
    dir: String,
}

impl RedisNode {
    pub async fn open(addr: &str) -> Self {
        let mut conn = crate::redis_node(addr).await;
        let pidfile = config(&mut conn, "pidfile").await;
        let (logfile, dir) = (config(&mut conn, "logfile").await, config(&mut conn, "dir").await);
        Self { addr: addr.to_owned(), conn, pidfile, logfile, dir }
    }

    /// How many of `keys` the node holds.
    pub async fn holds(&mut self, keys: &[String]) -> u32 {
        let mut n = 0;
        for k in keys {
            n += redis::cmd("EXISTS").arg(k).query_async::<u32>(&mut self.conn).await.unwrap();
        }
        n
    }

    /// Whether a new connection gets PONG within 2 s.
    pub async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(format!("redis://{}/", self.addr)) else { return false };
        let attempt = async {
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("PING").query_async::<String>(&mut conn).await.ok()
        };
        matches!(tokio::time::timeout(Duration::from_secs(2), attempt).await, Ok(Some(p)) if p == "PONG")
    }

    /// SHUTDOWN NOSAVE: the node and everything it held are gone.
    pub async fn shutdown(&mut self) {
        let _: Result<(), _> = redis::cmd("SHUTDOWN").arg("NOSAVE").query_async(&mut self.conn).await;
    }

    /// Starts the node again with its original settings (`scripts/stack_servers.py`'s, empty)
    /// and waits for its PONG.
    pub async fn restart(&mut self) -> bool {
        let port = self.addr.rsplit_once(':').map(|(_, p)| p.to_owned()).unwrap_or_default();
        let started = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .args(["--pidfile", &self.pidfile, "--logfile", &self.logfile, "--dir", &self.dir])
            .status()
            .is_ok_and(|s| s.success());
        for _ in 0..50 {
            if started && self.ping().await {
                self.conn = crate::redis_node(&self.addr).await;
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    fn signal(&self, sig: &str) -> bool {
        let Ok(pid) = std::fs::read_to_string(&self.pidfile) else { return false };
        std::process::Command::new("kill").args([sig, pid.trim()]).status().is_ok_and(|s| s.success())
    }

    /// SIGSTOP: the node keeps its connections and data but answers nothing.
    pub fn freeze(&self) -> bool {
        self.signal("-STOP")
    }

    pub fn thaw(&self) -> bool {
        self.signal("-CONT")
    }
}

async fn config(conn: &mut redis::aio::MultiplexedConnection, name: &str) -> String {
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query_async(conn).await.unwrap();
    v.get(1).cloned().unwrap_or_default()
}
