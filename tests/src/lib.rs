//! Helpers for the integration tests, which run against a deployed stack: the local emulator
//! (`make test` brings one up) or an AWS account.
//!
//! Everything comes from the standard environment: `API_URL` (the HTTP API's base URL),
//! `AWS_REGION`, `AWS_ENDPOINT_URL` (unset for AWS) and credentials. `make test` exports the
//! local stack's `.local/test/endpoints.env`; for AWS, export `API_URL` and your usual AWS
//! settings (see the README).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod contract;
pub mod faults;
pub mod seed;
pub mod site;

use std::time::Duration;

/// The HTTP API's base URL, without a trailing slash.
/// Now, in Unix milliseconds (the clock the functions use).
pub fn now_ms() -> u64 {
    domain::clock_text::now_unix_ms()
}

/// Polls `probe` every 250 ms until it gives a value, and returns it; panics (saying `what`)
/// once `secs` seconds pass without one. The one way the tests wait for something eventual.
pub async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    secs: u64,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

pub fn api_url() -> String {
    std::env::var("API_URL")
        .expect("API_URL is not set: run the tests through `make test`, or export API_URL (see README)")
        .trim_end_matches('/')
        .to_owned()
}

/// An HTTP client with a timeout on every call.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("HTTP client")
}

/// SDK configuration from the standard environment, with timeouts.
pub async fn sdk() -> aws_config::SdkConfig {
    adapters::aws::load(adapters::aws::Timeouts {
        operation: Duration::from_secs(20),
        attempt: Duration::from_secs(10),
        ..Default::default()
    })
    .await
}

/// A name no other test run uses: `prefix-<pid>-<nanos>`.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000_000)
}

/// GET `path` on the API; returns the status and the body parsed as JSON (panics if not JSON).
pub async fn get_json(client: &reqwest::Client, path: &str) -> (u16, serde_json::Value) {
    get_json_with(client, path, &[]).await
}

/// [`get_json`] with extra headers. Every answer is checked against `openapi.yaml`
/// ([`contract::check`]), so the document cannot drift from what the API does.
pub async fn get_json_with(
    client: &reqwest::Client,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let (status, ctype, text) = get_text(client, path, headers).await;
    contract::check("GET", path, status, ctype.as_deref(), text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    json_of("GET", path, status, ctype, &text)
}

/// GET a path `openapi.yaml` does not describe (unknown routes: the JSON 404), unchecked.
pub async fn get_json_unlisted(client: &reqwest::Client, path: &str) -> (u16, serde_json::Value) {
    let (status, ctype, text) = get_text(client, path, &[]).await;
    json_of("GET", path, status, ctype, &text)
}

async fn get_text(
    client: &reqwest::Client,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let mut req = client.get(format!("{}{path}", api_url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ctype = res.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned());
    (status, ctype, res.text().await.unwrap())
}

fn json_of(
    method: &str,
    path: &str,
    status: u16,
    ctype: Option<String>,
    text: &str,
) -> (u16, serde_json::Value) {
    let body = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{method} {path}: {status} body is not JSON ({e}): {text}"));
    assert!(
        ctype.as_deref().is_some_and(|c| c.starts_with("application/json")),
        "{method} {path}: content-type {ctype:?}"
    );
    (status, body)
}

/// Asserts the one error body: `{"code": "...", "message": "..."}` and nothing else.
pub fn assert_error_body(body: &serde_json::Value, code: &str) {
    let obj = body.as_object().unwrap_or_else(|| panic!("error body is not an object: {body}"));
    assert_eq!(obj.len(), 2, "error body has other fields: {body}");
    assert_eq!(obj.get("code").and_then(|c| c.as_str()), Some(code), "{body}");
    assert!(obj.get("message").and_then(|m| m.as_str()).is_some_and(|m| !m.is_empty()), "{body}");
}

/// An output of the stack named by `STACK_NAME`: how tests find the stack's resources, here
/// and on AWS alike.
pub async fn stack_output(key: &str) -> String {
    let stack = std::env::var("STACK_NAME").expect("STACK_NAME is not set (see README: running the tests)");
    let cfn = aws_sdk_cloudformation::Client::new(&sdk().await);
    let out = cfn.describe_stacks().stack_name(&stack).send().await.expect("DescribeStacks");
    out.stacks()
        .first()
        .and_then(|s| s.outputs().iter().find(|o| o.output_key() == Some(key)))
        .and_then(|o| o.output_value().map(str::to_owned))
        .unwrap_or_else(|| panic!("stack {stack} has no output {key}"))
}

/// POST a JSON body (or raw bytes) to the API with extra headers.
pub async fn post_json(
    client: &reqwest::Client,
    path: &str,
    body: &serde_json::Value,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
    let mut req = client.post(format!("{}{path}", api_url())).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let text = res.text().await.unwrap();
    let ctype = headers.get("content-type").and_then(|v| v.to_str().ok());
    contract::check("POST", path, status, ctype, text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("POST {path}: {status} not JSON ({e}): {text}"));
    (status, json, headers)
}

/// A signed-up user of the stack's user pool, holding an access token: the author of the posts
/// it writes (the API takes the author from the token's `sub`).
#[derive(Debug, Clone)]
pub struct Writer {
    pub name: String,
    pub sub: String,
    pub token: String,
}

impl Writer {
    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// POST a JSON body as this user, with extra headers.
    pub async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
        let bearer = self.bearer();
        let mut all = vec![("Authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        post_json(client, path, body, &all).await
    }

    /// Writes `contents` as this user and returns the new post's id (asserts the 201).
    pub async fn write(&self, client: &reqwest::Client, contents: &str) -> u64 {
        let (s, b, _) = self.post(client, "/v1/posts", &serde_json::json!({"contents": contents}), &[]).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["user_id"].as_str(), Some(self.sub.as_str()), "{b}");
        b["post_id"].as_str().unwrap().parse().unwrap()
    }
}

/// Signs up users named `<prefix><i>-<unique>` (`count` of them) through `scripts/signin.py`,
/// the same script people use, so the tests exercise the real sign-up and sign-in.
/// The local stack is `STACK_INSTANCE` (`scripts/stack.py` instances; `test` when unset).
pub async fn writers(prefix: &str, count: usize) -> Vec<Writer> {
    let mut args: Vec<String> = (0..count).map(|i| unique(&format!("{prefix}{i}"))).collect();
    args.extend(
        ["--instance", &std::env::var("STACK_INSTANCE").unwrap_or_else(|_| "test".into()), "--json"]
            .map(String::from),
    );
    // signin.py bounds its own calls (5 s connect, 10 s read, 3 attempts per call).
    let out = run_script("signin.py", args).await;
    let writers: Vec<Writer> = out
        .lines()
        .map(|line| {
            let j: serde_json::Value = serde_json::from_str(line).unwrap();
            Writer {
                name: j["user"].as_str().unwrap().to_owned(),
                sub: j["sub"].as_str().unwrap().to_owned(),
                token: j["access_token"].as_str().unwrap().to_owned(),
            }
        })
        .collect();
    assert_eq!(writers.len(), count, "one token per user");
    writers
}

/// Runs `scripts/<script>` with the project's Python (`.venv`, where botocore is); its stdout.
/// Panics, with the script's stderr, if it fails.
pub async fn run_script(script: &str, args: Vec<String>) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    let mut cmd = std::process::Command::new(if python.exists() { python } else { "python3".into() });
    cmd.arg(root.join("scripts").join(script)).args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().unwrap();
    assert!(out.status.success(), "{script} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `route?url=<link>`, the link query-encoded.
pub fn scrap_path(route: &str, link: &str) -> String {
    format!("{route}?url={}", url::form_urlencoded::byte_serialize(link.as_bytes()).collect::<String>())
}

/// One signed-up user.
pub async fn writer(prefix: &str) -> Writer {
    writers(prefix, 1).await.remove(0)
}

/// The cache nodes of the stack under test (`CACHE_NODES`).
pub fn cache_nodes() -> Vec<String> {
    std::env::var("CACHE_NODES")
        .expect("CACHE_NODES is not set (make test exports it)")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A plain Redis connection to one node, for tests that inspect or disturb the cache.
pub async fn redis_node(addr: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://{addr}/")).unwrap().get_multiplexed_async_connection().await.unwrap()
}

/// The post ids of a `{"posts": [...]}` page, in order.
pub fn page_ids(page: &serde_json::Value) -> Vec<u64> {
    page["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["post_id"].as_str().unwrap().parse().unwrap())
        .collect()
}
