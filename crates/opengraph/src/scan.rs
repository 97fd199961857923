//! One streaming pass of lol_html over the whole decoded document, collecting the raw material
//! every field is chosen from: `<meta>`, `<link>`, `<title>`, `<html lang>`, `<base href>` and
//! JSON-LD scripts.
//!
//! Why lol_html and the whole document: it is a real HTML tokenizer (attributes in any case and
//! order, unclosed tags, comments and scripts handled as a browser would) that streams without
//! building a DOM, and JSON-LD often sits in `<body>`, so stopping at `</head>` would lose it.
//! Values are kept raw here (entities still encoded: lol_html passes source text through);
//! `text::clean` decodes them when a field is chosen.

use std::borrow::Cow;
use std::cell::RefCell;

use lol_html::html_content::{Element, TextChunk};
use lol_html::{ElementContentHandlers, HtmlRewriter, Selector, Settings};

/// A `<link rel=… icon …>` candidate for the favicon.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Icon {
    /// Lowercased `rel`, e.g. `icon`, `shortcut icon`, `apple-touch-icon`.
    pub rel: String,
    pub href: String,
    pub sizes: Option<String>,
}

/// Everything the field selection needs, in document order.
#[derive(Debug, Default)]
pub(crate) struct Raw {
    /// `(key, content)`: key is the lowercased `property`, `name` or `itemprop:<itemprop>` of a
    /// `<meta>`; a tag carrying both `property` and `name` yields two entries.
    pub metas: Vec<(String, String)>,
    /// Text of every `<title>` element, in order (an `<svg><title>` can come first).
    pub titles: Vec<String>,
    pub lang: Option<String>,
    pub base: Option<String>,
    pub canonical: Option<String>,
    pub icons: Vec<Icon>,
    /// Bodies of `<script type="application/ld+json">`.
    pub jsonld: Vec<String>,
    /// Text of `<h1>` elements: the title of last resort.
    pub h1s: Vec<String>,
    /// Bylines marked up in the body: the text of `rel=author` links.
    pub bylines: Vec<String>,
    /// First `datetime` of a `<time>` element.
    pub time: Option<String>,
    /// First `src` of an `<img>` not `aria-hidden`: the image of last resort. (metascraper
    /// prefers an `<article>` image first; the descendant selectors that takes cost ~45% of
    /// the scan time and changed one page in 89 in the comparison, so the plain first image
    /// is used.)
    pub img: Option<String>,
}

impl Raw {
    /// The first non-empty content of a meta key: duplicates are common (plugins re-emit tags)
    /// and the first one is what the page author put in the template, as cheerio's `.attr()`
    /// and metascraper read it.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metas.iter().find(|(k, v)| k == key && !v.trim().is_empty()).map(|(_, v)| v.as_str())
    }
}

struct State {
    raw: Raw,
    /// Whether the `<script>` being read is JSON-LD.
    in_ld: bool,
}

/// Scans `html` (already decoded to UTF-8). Never fails: a tokenizer error keeps what was
/// collected before it.
pub(crate) fn scan(html: &str) -> Raw {
    let state = RefCell::new(State { raw: Raw::default(), in_ld: false });
    let Some(handlers) = handlers(&state) else {
        return Raw::default();
    };
    let settings = Settings {
        element_content_handlers: handlers,
        // Not strict: an ambiguous parser state must not abort the scan of a messy page.
        strict: false,
        ..Settings::new()
    };
    {
        let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
        // Errors only mean the scan stopped early; what was collected is still good.
        if rewriter.write(html.as_bytes()).is_ok() {
            let _ = rewriter.end();
        }
    }
    state.into_inner().raw
}

type Handlers<'h> = Vec<(Cow<'static, Selector>, ElementContentHandlers<'h>)>;

fn handlers(state: &RefCell<State>) -> Option<Handlers<'_>> {
    let sel = |s: &str| s.parse::<Selector>().ok().map(Cow::Owned);
    let on = |f: fn(&mut State, &mut Element)| {
        ElementContentHandlers::default().element(move |el: &mut Element| {
            f(&mut state.borrow_mut(), el);
            Ok(())
        })
    };
    // Text-collecting handlers: the element handler opens a buffer, the text handler (which
    // also sees the text of descendants) appends to it.
    let collect = |list: fn(&mut State) -> Option<&mut Vec<String>>| {
        ElementContentHandlers::default()
            .element(move |_: &mut Element| {
                if let Some(v) = list(&mut state.borrow_mut()) {
                    v.push(String::new());
                }
                Ok(())
            })
            .text(move |t: &mut TextChunk| {
                if let Some(buf) = list(&mut state.borrow_mut()).and_then(|v| v.last_mut()) {
                    buf.push_str(t.as_str());
                }
                Ok(())
            })
    };
    Some(vec![
        (sel("meta")?, on(on_meta)),
        (sel("link")?, on(on_link)),
        (sel("html")?, on(|st, el| set_once(&mut st.raw.lang, el, &["lang", "xml:lang"]))),
        (sel("base")?, on(|st, el| set_once(&mut st.raw.base, el, &["href"]))),
        (sel("time[datetime]")?, on(|st, el| set_once(&mut st.raw.time, el, &["datetime"]))),
        (sel("title")?, collect(|st| Some(&mut st.raw.titles))),
        (sel("h1")?, collect(|st| Some(&mut st.raw.h1s))),
        (sel("a[rel~=author]")?, collect(|st| Some(&mut st.raw.bylines))),
        (
            sel("script")?,
            ElementContentHandlers::default()
                .element(|el: &mut Element| {
                    let mut st = state.borrow_mut();
                    st.in_ld = el.get_attribute("type").is_some_and(|t| is_ld_type(&t));
                    if st.in_ld {
                        st.raw.jsonld.push(String::new());
                    }
                    Ok(())
                })
                .text(|t: &mut TextChunk| {
                    let mut st = state.borrow_mut();
                    if st.in_ld
                        && let Some(buf) = st.raw.jsonld.last_mut()
                    {
                        buf.push_str(t.as_str());
                    }
                    Ok(())
                }),
        ),
        (sel("img[src]:not([aria-hidden=true])")?, on(|st, el| set_once(&mut st.raw.img, el, &["src"]))),
    ])
}

/// Keeps the first value of the first present attribute among `attrs` (only the first
/// `<base href>` or `<html lang>` counts, as in browsers).
fn set_once(slot: &mut Option<String>, el: &Element, attrs: &[&str]) {
    if slot.is_none() {
        *slot = attrs.iter().find_map(|a| el.get_attribute(a));
    }
}

fn is_ld_type(t: &str) -> bool {
    let essence = t.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/ld+json")
}

fn on_meta(st: &mut State, el: &mut Element) {
    let Some(content) = el.get_attribute("content") else {
        return;
    };
    for (attr, prefix) in [("property", ""), ("name", ""), ("itemprop", "itemprop:")] {
        if let Some(key) = el.get_attribute(attr) {
            let key = key.trim().to_ascii_lowercase();
            if !key.is_empty() {
                st.raw.metas.push((format!("{prefix}{key}"), content.clone()));
            }
        }
    }
}

fn on_link(st: &mut State, el: &mut Element) {
    let (Some(rel), Some(href)) = (el.get_attribute("rel"), el.get_attribute("href")) else {
        return;
    };
    let rel = rel.trim().to_ascii_lowercase();
    if rel.split_ascii_whitespace().any(|r| r == "canonical") {
        if st.raw.canonical.is_none() && !href.trim().is_empty() {
            st.raw.canonical = Some(href);
        }
    } else if rel.split_ascii_whitespace().any(|r| r.contains("icon")) {
        st.raw.icons.push(Icon { rel, href, sizes: el.get_attribute("sizes") });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_metas_in_any_case_and_order() {
        let raw = scan(r#"<META CONTENT="x" PROPERTY="OG:Title"><meta name=description content='d'>"#);
        assert_eq!(raw.meta("og:title"), Some("x"));
        assert_eq!(raw.meta("description"), Some("d"));
    }

    #[test]
    fn first_non_empty_duplicate_wins() {
        let raw = scan(r#"<meta property="og:title" content=" "><meta property="og:title" content="b">"#);
        assert_eq!(raw.meta("og:title"), Some("b"));
    }

    #[test]
    fn jsonld_in_body_and_title_text() {
        let raw = scan(
            "<html lang=fr><title>A &amp; B</title><body><p>x<script type='application/ld+json'>{\"a\":1}</script>",
        );
        assert_eq!(raw.titles, vec!["A &amp; B".to_string()]);
        assert_eq!(raw.jsonld, vec!["{\"a\":1}".to_string()]);
        assert_eq!(raw.lang.as_deref(), Some("fr"));
    }

    #[test]
    fn other_scripts_are_ignored() {
        let raw =
            scan("<script>var a = '<title>no</title>';</script><script type=text/javascript>x</script>");
        assert!(raw.titles.is_empty());
        assert!(raw.jsonld.is_empty());
    }
}
