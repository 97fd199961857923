//! Decodes the body to UTF-8 once, before parsing, so every later step works on `&str`.
//!
//! The encoding is chosen in the HTML standard's order: a byte-order mark, then the `charset`
//! parameter of the Content-Type header, then a `<meta charset>` or
//! `<meta http-equiv="content-type" content="…; charset=…">` found in the first 8 KiB (the
//! standard says 1 KiB; real pages put long comments and scripts first, and Chromium looks
//! further too). With none of these, a body that is valid UTF-8 is UTF-8, anything else
//! windows-1252 (the web's de facto default, and a superset of ISO-8859-1). A `<meta>` naming a
//! legacy encoding is overruled when the body is valid UTF-8 with non-ASCII bytes (saved pages
//! are often re-encoded to UTF-8 and keep the old tag). Decoding never
//! fails: malformed sequences become U+FFFD.

use std::borrow::Cow;
use std::cell::Cell;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use lol_html::html_content::Element;
use lol_html::{AsciiCompatibleEncoding, ElementContentHandlers, HtmlRewriter, Selector, Settings};

const PRESCAN_BYTES: usize = 8 * 1024;

/// Decodes `body`, choosing the encoding as described in the module header.
pub(crate) fn decode<'a>(body: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    let encoding = detect(body, content_type);
    // `decode` sniffs a BOM itself and lets it override `encoding`, which is the standard's rule.
    let (text, _, _) = encoding.decode(body);
    text
}

/// The encoding `decode` would use (exposed for tests).
pub(crate) fn detect(body: &[u8], content_type: Option<&str>) -> &'static Encoding {
    if let Some((bom, _)) = Encoding::for_bom(body) {
        return bom;
    }
    if let Some(enc) = content_type.and_then(charset_param).and_then(|l| Encoding::for_label(l.as_bytes())) {
        return enc;
    }
    let valid_utf8 = std::str::from_utf8(body).is_ok();
    if let Some(enc) = prescan(body.get(..PRESCAN_BYTES).unwrap_or(body)) {
        // A page saved and re-encoded to UTF-8 keeps its old <meta charset>; non-ASCII text in
        // a legacy encoding is practically never valid UTF-8 by accident, so trust the bytes.
        if enc != UTF_8 && valid_utf8 && !body.is_ascii() {
            return UTF_8;
        }
        return enc;
    }
    if valid_utf8 { UTF_8 } else { WINDOWS_1252 }
}

/// The value of a `charset=` parameter in a Content-Type value, unquoted.
pub(crate) fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// Looks for a charset declaration in `<meta>` tags, parsing the prefix as windows-1252 (every
/// ASCII byte is itself, so tag and attribute names read correctly whatever the real encoding).
fn prescan(head: &[u8]) -> Option<&'static Encoding> {
    // Most pages declare nothing in their first bytes or say it plainly; skipping the parser
    // when "charset" never appears saves a second tokenizer setup per page.
    if !head.windows(7).any(|w| w.eq_ignore_ascii_case(b"charset")) {
        return None;
    }
    let found: Cell<Option<&'static Encoding>> = Cell::new(None);
    let selector = "meta".parse::<Selector>().ok()?;
    let on_meta = |el: &mut Element| {
        if found.get().is_none() {
            found.set(meta_charset(el));
        }
        Ok(())
    };
    let settings = Settings {
        element_content_handlers: vec![(
            Cow::Owned(selector),
            ElementContentHandlers::default().element(on_meta),
        )],
        encoding: AsciiCompatibleEncoding::new(WINDOWS_1252)?,
        strict: false,
        ..Settings::new()
    };
    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    // A cut-off tag at the end of the prefix is simply not seen; errors change nothing here.
    if rewriter.write(head).is_ok() {
        let _ = rewriter.end();
    }
    found.get().map(|enc| match enc {
        // A document that an ASCII-compatible parse could read is not UTF-16 whatever it says.
        e if e == UTF_16LE || e == UTF_16BE => UTF_8,
        e if e.name() == "x-user-defined" => WINDOWS_1252,
        e => e,
    })
}

fn meta_charset(el: &Element) -> Option<&'static Encoding> {
    if let Some(label) = el.get_attribute("charset") {
        return Encoding::for_label(label.trim().as_bytes());
    }
    let equiv = el.get_attribute("http-equiv")?;
    if !equiv.trim().eq_ignore_ascii_case("content-type") {
        return None;
    }
    let content = el.get_attribute("content")?;
    Encoding::for_label(charset_param(&content)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_charset_wins_over_meta() {
        let enc = detect(b"<meta charset=utf-8>", Some("text/html; charset=\"Shift_JIS\""));
        assert_eq!(enc.name(), "Shift_JIS");
    }

    #[test]
    fn meta_charset_and_http_equiv() {
        assert_eq!(detect(b"<meta charset='euc-kr'>", None).name(), "EUC-KR");
        let doc = b"<META HTTP-EQUIV=Content-Type CONTENT='text/html; charset=windows-1251'>";
        assert_eq!(detect(doc, Some("text/html")).name(), "windows-1251");
    }

    #[test]
    fn bom_wins_over_everything() {
        assert_eq!(detect(b"\xEF\xBB\xBF<meta charset=latin1>", Some("text/html; charset=latin1")), UTF_8);
    }

    #[test]
    fn undeclared_invalid_utf8_falls_back_to_windows_1252() {
        assert_eq!(detect(b"<p>caf\xe9</p>", None), WINDOWS_1252);
        assert_eq!(decode(b"<p>caf\xe9</p>", None), "<p>café</p>");
    }

    #[test]
    fn valid_utf8_overrules_a_legacy_meta() {
        assert_eq!(detect("<meta charset=windows-1251><p>Пикабу".as_bytes(), None), UTF_8);
    }

    #[test]
    fn meta_utf16_means_utf8() {
        assert_eq!(detect(b"<meta charset=utf-16>", None), UTF_8);
    }
}
