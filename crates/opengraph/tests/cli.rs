//! The `og-extract` binary in both modes, over the fixtures: single-page output equals the
//! library's preview, and `--jsonl` answers line for line, with an `{"error": …}` line for a
//! page that cannot be read rather than an abort.

// Test helpers outside #[test] fns: a broken fixture or binary should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use opengraph::Preview;
use serde_json::Value;

mod common;

use common as fixtures;

const BIN: &str = env!("CARGO_BIN_EXE_og-extract");
const NAMES: [&str; 12] = [
    "title",
    "description",
    "url",
    "image",
    "image_width",
    "image_height",
    "type",
    "site_name",
    "author",
    "published_time",
    "lang",
    "favicon",
];

fn keys_are_exact(v: &Value) {
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = NAMES.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
}

#[test]
fn single_page_mode() {
    for (name, case) in fixtures::cases() {
        let mut cmd = Command::new(BIN);
        cmd.arg("--url").arg(&case.page_url);
        if let Some(ct) = &case.content_type {
            cmd.arg("--content-type").arg(ct);
        }
        let out = cmd.arg(fixtures::dir().join(&case.file)).output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let value: Value = serde_json::from_slice(&out.stdout).unwrap();
        keys_are_exact(&value);
        let got: Preview = serde_json::from_value(value).unwrap();
        // Without --content-type the binary sniffs, so compare only where the header was given.
        if case.content_type.is_some() {
            assert_eq!(got, case.expected, "{name}");
        }
    }
}

#[test]
fn jsonl_mode_keeps_order_and_reports_errors_inline() {
    let dir = std::env::temp_dir().join(format!("og-extract-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = fixtures::cases();
    let mut list = String::new();
    for (_, case) in &cases {
        list += &format!("{}\t{}\n", case.page_url, fixtures::dir().join(&case.file).display());
    }
    list += "https://example.com/missing\t/definitely/not/here.html\n";
    list += "not a url\t/tmp/x.html\n";
    list += "no tab on this line\n";
    let list_path = dir.join("list.tsv");
    std::fs::write(&list_path, list).unwrap();

    let out = Command::new(BIN).arg("--jsonl").arg(&list_path).output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), cases.len() + 3);
    for ((name, case), line) in cases.iter().zip(&lines) {
        keys_are_exact(line);
        assert_eq!(line["url"], Value::from(case.expected.url.clone()), "{name}");
    }
    for line in &lines[cases.len()..] {
        let err = line["error"].as_str().unwrap();
        assert!(!err.is_empty());
        assert_eq!(line.as_object().unwrap().len(), 1);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_usage_exits_non_zero() {
    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert!(!out.status.success());
}
