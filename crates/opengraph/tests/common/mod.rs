//! Loading the fixture cases shared by the integration tests: `tests/fixtures/<name>.json`
//! names the page file, its URL, the Content-Type given and the expected preview.

// Test helpers outside #[test] fns: a broken fixture or binary should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use opengraph::Preview;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Case {
    pub file: String,
    pub page_url: String,
    pub content_type: Option<String>,
    pub expected: Preview,
}

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn cases() -> Vec<(String, Case)> {
    let mut out: Vec<(String, Case)> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let case = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            (p.file_stem().unwrap().to_string_lossy().into_owned(), case)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
