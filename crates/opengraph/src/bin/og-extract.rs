//! `og-extract`: the crate's extraction from the command line, for checking pages by hand and
//! for comparing against other scrapers over a saved corpus.
//!
//! ```text
//! og-extract --url <page URL> [--content-type <type>] <file.html>   one JSON object
//! og-extract --jsonl <list>            one JSON object per line of "<page URL>\t<path>"
//! ```
//!
//! In `--jsonl` mode a line that cannot be processed (unreadable file, bad URL, malformed line)
//! prints `{"error": "..."}` in its place, so output line N always answers input line N.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use url::Url;

const USAGE: &str = "usage: og-extract --url <page URL> [--content-type <type>] <file.html>\n       og-extract --jsonl <list of \"<page URL>\\t<path>\" lines>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("og-extract: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut url = None;
    let mut content_type = None;
    let mut jsonl = None;
    let mut file = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--url" => url = Some(it.next().ok_or("--url needs a value")?),
            "--content-type" => content_type = Some(it.next().ok_or("--content-type needs a value")?),
            "--jsonl" => jsonl = Some(it.next().ok_or("--jsonl needs a value")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            a if a.starts_with("--") => return Err(format!("unknown option {a}")),
            a => file = Some(a),
        }
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match (jsonl, url, file) {
        (Some(list), None, None) => {
            let text = std::fs::read_to_string(list).map_err(|e| format!("cannot read {list}: {e}"))?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let json = match one_line(line) {
                    Ok(preview) => preview,
                    Err(error) => serde_json::json!({ "error": error }).to_string(),
                };
                writeln!(out, "{json}").map_err(|e| e.to_string())?;
            }
        }
        (None, Some(url), Some(path)) => {
            let json = page(url, path, content_type.map(String::as_str))?;
            writeln!(out, "{json}").map_err(|e| e.to_string())?;
        }
        _ => return Err("give either --url and a file, or --jsonl".to_string()),
    }
    out.flush().map_err(|e| e.to_string())
}

fn one_line(line: &str) -> Result<String, String> {
    let (url, path) = line.split_once('\t').ok_or("line is not \"<page URL>\\t<path>\"")?;
    page(url.trim(), path.trim_end_matches(['\r', '\n']), None)
}

fn page(url: &str, path: &str, content_type: Option<&str>) -> Result<String, String> {
    let url = Url::parse(url).map_err(|e| format!("bad URL {url}: {e}"))?;
    let body = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let preview = opengraph::extract(&body, &url, content_type);
    serde_json::to_string(&preview).map_err(|e| e.to_string())
}
