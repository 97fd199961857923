#!/usr/bin/env python3
"""Reference approach for bench/og_compare.sh: the og: tags (og:title, og:url, og:type,
og:image, og:description, og:article:author) extracted with BeautifulSoup, once with the
html.parser backend and once with lxml, over every *.html file of the given directory.

Prints one JSON object per backend: {"backend", "pages", "bytes", "seconds", "pages_per_s", "mb_per_s"}.
Each backend loops over the whole page set until at least --min-seconds have passed.
"""
import argparse
import json
import pathlib
import time

from bs4 import BeautifulSoup

TAGS = ("og:title", "og:url", "og:type", "og:image", "og:description", "og:article:author")


def extract(html: bytes, backend: str) -> dict:
    soup = BeautifulSoup(html, backend)
    found = {}
    for meta in soup.find_all("meta"):
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        if key in TAGS and key not in found and (meta.get("content") or "").strip():
            found[key] = meta["content"].strip()
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--min-seconds", type=float, default=3.0)
    args = ap.parse_args()
    pages = [p.read_bytes() for p in sorted(pathlib.Path(args.dir).glob("*.html"))]
    size = sum(len(p) for p in pages)
    for backend in ("html.parser", "lxml"):
        runs = 0
        start = time.perf_counter()
        while True:
            for page in pages:
                extract(page, backend)
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= args.min_seconds:
                break
        print(json.dumps({
            "backend": backend,
            "pages": len(pages) * runs,
            "bytes": size * runs,
            "seconds": elapsed,
            "pages_per_s": len(pages) * runs / elapsed,
            "mb_per_s": size * runs / elapsed / 1e6,
        }))


if __name__ == "__main__":
    main()
