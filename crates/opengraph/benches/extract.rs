//! Throughput of `extract` over a page set: the hand-written fixtures plus the larger
//! realistic pages in `benches/pages/` (or every `*.html` under `$OG_BENCH_DIR` when set, so
//! `bench/og_compare.sh` can time exactly the pages the Python reference reads).
//!
//! `page_set` runs all pages per iteration (bytes throughput: MB/s; pages/s = pages / time,
//! which `bench/og_compare.sh` derives); `large_page` is the biggest page alone.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use url::Url;

fn html_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "html"));
    files.sort();
    files
}

fn pages() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = match std::env::var_os("OG_BENCH_DIR") {
        Some(dir) => html_files(Path::new(&dir)),
        None => [html_files(&root.join("tests/fixtures")), html_files(&root.join("benches/pages"))].concat(),
    };
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn bench(c: &mut Criterion) {
    let pages = pages();
    let total: usize = pages.iter().map(Vec::len).sum();
    let Ok(url) = Url::parse("https://bench.example.com/2024/01/long-article/") else {
        unreachable!("a constant, valid URL")
    };
    eprintln!("page set: {} pages, {} bytes", pages.len(), total);

    let mut group = c.benchmark_group("extract");
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("page_set", |b| {
        b.iter(|| {
            for page in &pages {
                black_box(opengraph::extract(black_box(page), &url, None));
            }
        })
    });
    if let Some(largest) = pages.iter().max_by_key(|p| p.len()) {
        group.throughput(Throughput::Bytes(largest.len() as u64));
        group.bench_function("large_page", |b| {
            b.iter(|| black_box(opengraph::extract(black_box(largest), &url, Some("text/html"))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
