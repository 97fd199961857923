//! What kind of answer a fetch returned, from its Content-Type or, when that is missing or
//! says nothing (`application/octet-stream`, `text/plain`, `unknown/unknown`), from the first
//! bytes, so that a misconfigured server serving HTML still gets a rich preview.
//!
//! Non-HTML kinds map to a preview `type`: `image/*` -> `image`, `video/*` -> `video`,
//! `audio/*` -> `audio`, PDF, office, e-book and other `text/*` formats -> `document`,
//! anything else -> `file`.

/// How `extract` treats the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Html,
    /// Not HTML: the preview gets only `url`, this `type`, and `image` for images.
    Other(&'static str),
}

/// Decides from the header, sniffing the body when the header is absent or uninformative.
pub(crate) fn classify(content_type: Option<&str>, body: &[u8]) -> Kind {
    let essence = content_type
        .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "text/html" | "application/xhtml+xml" => Kind::Html,
        "text/plain" => sniff(body).unwrap_or(Kind::Other("document")),
        // No usable header: markup-less text is still parsed as HTML (it may be a fragment
        // of one, and parsing text finds nothing wrong), binary is a file.
        ""
        | "unknown/unknown"
        | "application/unknown"
        | "*/*"
        | "application/octet-stream"
        | "binary/octet-stream" => sniff(body).unwrap_or_else(|| {
            let head = body.get(..1024).unwrap_or(body);
            if head.contains(&0) { Kind::Other("file") } else { Kind::Html }
        }),
        e => Kind::Other(kind_of(e)),
    }
}

fn kind_of(essence: &str) -> &'static str {
    let (top, sub) = essence.split_once('/').unwrap_or((essence, ""));
    match top {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        "text" => "document",
        _ if sub == "pdf"
            || sub.starts_with("msword")
            || sub.starts_with("vnd.openxmlformats")
            || sub.starts_with("vnd.oasis.opendocument")
            || sub.starts_with("vnd.ms-")
            || sub == "rtf"
            || sub == "epub+zip" =>
        {
            "document"
        }
        _ => "file",
    }
}

/// Magic bytes for the common image and document formats, then the HTML signatures of the
/// WHATWG MIME sniffing standard (a tag name after leading whitespace, case-insensitive).
fn sniff(body: &[u8]) -> Option<Kind> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image"),
        (b"\xff\xd8\xff", "image"),
        (b"GIF87a", "image"),
        (b"GIF89a", "image"),
        (b"%PDF-", "document"),
    ];
    if let Some((_, kind)) = MAGIC.iter().find(|(m, _)| body.starts_with(m)) {
        return Some(Kind::Other(kind));
    }
    if body.starts_with(b"RIFF") && body.get(8..12) == Some(b"WEBP") {
        return Some(Kind::Other("image"));
    }
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    let head = body.get(start..).unwrap_or_default();
    const TAGS: &[&[u8]] = &[
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
        b"<meta",
    ];
    if head.get(..5).is_some_and(|p| p.eq_ignore_ascii_case(b"<?xml")) {
        let window = head.get(..1024).unwrap_or(head).to_ascii_lowercase();
        if window.windows(5).any(|w| w == b"<html") {
            return Some(Kind::Html);
        }
    }
    let is_html = TAGS.iter().any(|tag| {
        let Some(prefix) = head.get(..tag.len()) else { return false };
        // "<!--" needs no terminator; a tag name must end at a space or '>'.
        prefix.eq_ignore_ascii_case(tag)
            && (tag.ends_with(b"--")
                || matches!(head.get(tag.len()), Some(b' ' | b'>' | b'\t' | b'\n' | b'\r')))
    });
    is_html.then_some(Kind::Html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_decides() {
        assert_eq!(classify(Some("text/html; charset=utf-8"), b""), Kind::Html);
        assert_eq!(classify(Some("IMAGE/PNG"), b""), Kind::Other("image"));
        assert_eq!(classify(Some("application/pdf"), b""), Kind::Other("document"));
        assert_eq!(classify(Some("video/mp4"), b""), Kind::Other("video"));
        assert_eq!(classify(Some("application/zip"), b""), Kind::Other("file"));
    }

    #[test]
    fn sniffs_when_missing() {
        assert_eq!(classify(None, b"  \n<!DOCTYPE html><html>"), Kind::Html);
        assert_eq!(classify(None, b"<HTML lang=en>"), Kind::Html);
        assert_eq!(classify(None, b"\x89PNG\r\n\x1a\n...."), Kind::Other("image"));
        assert_eq!(classify(Some("text/plain"), b"hello"), Kind::Other("document"));
        assert_eq!(classify(None, b"<?xml version='1.0'?>\n<html xmlns='x'>"), Kind::Html);
        assert_eq!(classify(None, b"plain words"), Kind::Html);
        assert_eq!(classify(None, b"\x00\x01binary"), Kind::Other("file"));
    }
}
