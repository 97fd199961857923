//! The functions' processes under the local emulator, found by name and killed.

use std::time::{Duration, Instant};

/// The pid of a function's bootstrap processes run by the local emulator (by the function name
/// in their environment).
pub fn function_pids(function_name: &str) -> Vec<i32> {
    let needle = format!("AWS_LAMBDA_FUNCTION_NAME={function_name}");
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Kills every running process of a function (SIGKILL); how many were killed.
pub fn kill_function(function_name: &str) -> usize {
    function_pids(function_name)
        .into_iter()
        .filter(|pid| {
            std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        })
        .count()
}

/// Kills the function's processes as soon as one runs, polling every 300 ms for at most
/// `within`; how many were killed.
pub async fn kill_soon(function_name: &str, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let killed = kill_function(function_name);
        if killed > 0 {
            return killed;
        }
    }
    0
}
