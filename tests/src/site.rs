//! A small web site on loopback for the fetch and scrap tests: pages in several charsets,
//! redirects, slow and huge answers, non-HTML types, error statuses, and a hit counter per path.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const ARTICLE: &str = r#"<!doctype html><html lang="en"><head>
<meta charset="utf-8"><title>Fallback title</title>
<meta property="og:title" content="Loopback &amp; friends">
<meta property="og:description" content="A page served by the test site.">
<meta property="og:image" content="/img/cover.png">
<meta property="og:type" content="article">
<meta name="author" content="Test Author">
</head><body><p>Hello</p></body></html>"#;

#[derive(Clone)]
pub struct Site {
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Site {
    /// Starts the site on 127.0.0.1 with a free port; it runs until the test's runtime ends.
    pub async fn start() -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site = Site { addr: listener.local_addr().unwrap(), hits: Arc::default() };
        let hits = Arc::clone(&site.hits);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let hits = Arc::clone(&hits);
                tokio::spawn(async move {
                    let _ = serve(stream, hits).await;
                });
            }
        });
        site
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests seen for `target` (path and query, exactly as requested).
    pub fn hits(&self, target: &str) -> usize {
        self.hits.lock().unwrap().get(target).copied().unwrap_or(0)
    }
}

async fn serve(mut stream: TcpStream, hits: Arc<Mutex<HashMap<String, usize>>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let path = target.split('?').next().unwrap_or("/").to_owned();
    *hits.lock().unwrap().entry(target.clone()).or_default() += 1;
    let accepts_gzip = head.to_ascii_lowercase().contains("accept-encoding: gzip")
        || head.to_ascii_lowercase().contains("accept-encoding: gzip, br")
        || head.to_ascii_lowercase().contains("gzip");

    let (status, headers, body): (&str, Vec<(String, String)>, Vec<u8>) = match path.as_str() {
        "/article" | "/counted" => ok("text/html; charset=utf-8", ARTICLE.as_bytes().to_vec()),
        p if p.starts_with("/redirect/") => {
            let n: usize = p.trim_start_matches("/redirect/").parse().unwrap_or(0);
            let next = if n <= 1 { "/article".to_owned() } else { format!("/redirect/{}", n - 1) };
            redirect(&next)
        }
        "/to-metadata" => redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-private" => redirect("http://10.0.0.1/"),
        "/to-file" => redirect("file:///etc/passwd"),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            ok("text/html", ARTICLE.as_bytes().to_vec())
        }
        "/slow-body" => {
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n<html><head>";
            stream.write_all(head.as_bytes()).await?;
            for _ in 0..300 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                stream.write_all(b"<!-- trickle -->").await?;
            }
            return Ok(());
        }
        "/head-then-slow" => {
            // A full preview in the head, then a body that trickles for 30 s: a fetcher that
            // stops once the head suffices answers at once.
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000000\r\n\r\n{}",
                ARTICLE.split("<body>").next().unwrap_or_default()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(b"<body>").await?;
            for _ in 0..300 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                stream.write_all(b"<p>more</p>").await?;
            }
            return Ok(());
        }
        "/huge" => {
            // 6 MiB: a head with the preview, then filler far past the 2 MiB cap.
            let mut b = b"<html><head><title>Huge page</title></head><body>".to_vec();
            b.resize(6 * 1024 * 1024, b'x');
            ok("text/html", b)
        }
        "/gzip" if accepts_gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(ARTICLE.as_bytes())?;
            let (s, mut h, b) = ok("text/html; charset=utf-8", enc.finish()?);
            h.push(("Content-Encoding".into(), "gzip".into()));
            (s, h, b)
        }
        "/latin1" => {
            // ISO-8859-1 bytes, declared only in the header: "Café Noël".
            let mut b = b"<html><head><title>Caf\xe9 No\xebl</title></head></html>".to_vec();
            b.shrink_to_fit();
            ok("text/html; charset=iso-8859-1", b)
        }
        "/sjis" => {
            // Shift_JIS bytes, declared only in <meta charset>: "日本語" (nihongo).
            let b = b"<html><head><meta charset=\"shift_jis\"><title>\x93\xfa\x96\x7b\x8c\xea</title></head></html>".to_vec();
            ok("text/html", b)
        }
        p if p.starts_with("/fixture/") => fixture(p.trim_start_matches("/fixture/")),
        "/image.png" => ok("image/png", b"\x89PNG\r\n\x1a\n fake".to_vec()),
        "/doc.pdf" => ok("application/pdf", b"%PDF-1.4 fake".to_vec()),
        p if p.starts_with("/status/") => {
            let code = p.trim_start_matches("/status/");
            let line = match code {
                "404" => "404 Not Found",
                "410" => "410 Gone",
                "500" => "500 Internal Server Error",
                _ => "503 Service Unavailable",
            };
            (
                line,
                vec![("Content-Type".into(), "text/html".into())],
                b"<html><title>error</title></html>".to_vec(),
            )
        }
        _ => ("404 Not Found", vec![("Content-Type".into(), "text/plain".into())], b"not found".to_vec()),
    };
    let mut response =
        format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        response.push_str(&format!("{k}: {v}\r\n"));
    }
    response.push_str("\r\n");
    stream.write_all(response.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}

/// The opengraph crate's fixture `<name>`: its page, with the Content-Type its case names.
pub fn fixture_case(name: &str) -> Option<(Vec<u8>, Option<String>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/opengraph/tests/fixtures");
    let case: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).ok()?).ok()?;
    let body = std::fs::read(dir.join(case["file"].as_str()?)).ok()?;
    Some((body, case["content_type"].as_str().map(str::to_owned)))
}

/// Names of the opengraph fixtures.
pub fn fixture_names() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/opengraph/tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    names
}

fn fixture(name: &str) -> (&'static str, Vec<(String, String)>, Vec<u8>) {
    match fixture_case(name) {
        Some((body, Some(ctype))) => ("200 OK", vec![("Content-Type".into(), ctype)], body),
        Some((body, None)) => ("200 OK", Vec::new(), body),
        None => ("404 Not Found", Vec::new(), b"no such fixture".to_vec()),
    }
}

fn ok(ctype: &str, body: Vec<u8>) -> (&'static str, Vec<(String, String)>, Vec<u8>) {
    ("200 OK", vec![("Content-Type".into(), ctype.into())], body)
}

fn redirect(to: &str) -> (&'static str, Vec<(String, String)>, Vec<u8>) {
    ("302 Found", vec![("Location".into(), to.into())], Vec::new())
}
