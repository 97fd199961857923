//! `extract` never panics: on arbitrary bytes with arbitrary content types, and on random
//! HTML-ish documents built from the tags and attributes the scanner looks at. And whatever the
//! page, every field of its preview is within its cap (`opengraph::limits`).

use opengraph::limits::{self, cap};
use opengraph::{Preview, extract};
use proptest::prelude::*;
use url::Url;

fn base() -> Url {
    Url::parse("https://example.com/a/b?c=d").unwrap_or_else(|_| unreachable!("a constant, valid URL"))
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("text/html".to_string())),
        Just(Some("text/html; charset=shift_jis".to_string())),
        Just(Some("image/png".to_string())),
        ".{0,40}".prop_map(Some),
    ]
}

fn fragment() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("og:title"),
        Just("og:image"),
        Just("og:image:width"),
        Just("og:url"),
        Just("twitter:image"),
        Just("article:published_time"),
        Just("description"),
        Just("author"),
        Just("og:locale"),
    ];
    let text = "[ -~é日<>&#;\"'/\\\\]{0,30}";
    prop_oneof![
        (key, text, any::<bool>()).prop_map(|(k, v, name)| {
            format!("<meta {}=\"{k}\" content=\"{v}\">", if name { "name" } else { "property" })
        }),
        text.prop_map(|t| format!("<title>{t}</title>")),
        text.prop_map(|t| format!("<script type=\"application/ld+json\">{{\"@type\":\"Article\",\"headline\":\"{t}\",\"image\":[\"{t}\"]}}</script>")),
        text.prop_map(|t| format!("<link rel=\"icon\" href=\"{t}\" sizes=\"{t}\">")),
        text.prop_map(|t| format!("<base href=\"{t}\">")),
        text.prop_map(|t| format!("<html lang=\"{t}\"><meta charset=\"{t}\">")),
        text.prop_map(|t| format!("<time datetime=\"{t}\"><h1>{t}<img src=\"{t}\">")),
        text,
        Just("<!--".to_string()),
        Just("<script>".to_string()),
        Just("</head><body>".to_string()),
    ]
}

/// Cases per fuzz target: `FUZZ_CASES` (what `make fuzz` raises), else 512.
fn fuzz_config() -> ProptestConfig {
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(fuzz_config())]

    #[test]
    fn fuzz_extract_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048), ct in content_type()) {
        let _ = extract(&body, &base(), ct.as_deref());
    }

    #[test]
    fn fuzz_extract_html_ish(parts in proptest::collection::vec(fragment(), 0..24), ct in content_type()) {
        let html = parts.concat();
        let p = extract(html.as_bytes(), &base(), ct.as_deref());
        // Whatever the page says, URLs in a preview are absolute http(s).
        for u in [&p.url, &p.image, &p.favicon].into_iter().flatten() {
            prop_assert!(u.starts_with("http://") || u.starts_with("https://"), "{u}");
        }
    }

    #[test]
    fn fuzz_extract_dates(s in "[0-9T:+\\-Z. ]{0,40}") {
        let html = format!("<meta property=\"article:published_time\" content=\"{s}\">");
        let _ = extract(html.as_bytes(), &base(), Some("text/html"));
    }
}

/// Which field of `p` is over its cap, if any.
fn over_cap(p: &Preview) -> Option<String> {
    let chars = |f: &Option<String>| f.as_deref().map_or(0, |s| s.chars().count());
    let bytes = |f: &Option<String>| f.as_deref().map_or(0, str::len);
    let checks = [
        ("title", chars(&p.title), limits::MAX_TITLE_CHARS),
        ("description", chars(&p.description), limits::MAX_DESCRIPTION_CHARS),
        ("site_name", chars(&p.site_name), limits::MAX_SITE_NAME_CHARS),
        ("author", chars(&p.author), limits::MAX_AUTHOR_CHARS),
        ("type", chars(&p.r#type), limits::MAX_TYPE_CHARS),
        ("published_time", chars(&p.published_time), limits::MAX_PUBLISHED_TIME_CHARS),
        ("lang", chars(&p.lang), limits::MAX_LANG_CHARS),
        ("url", bytes(&p.url), limits::MAX_URL_BYTES),
        ("image", bytes(&p.image), limits::MAX_URL_BYTES),
        ("favicon", bytes(&p.favicon), limits::MAX_URL_BYTES),
    ];
    checks.iter().find(|(_, n, max)| n > max).map(|(f, n, max)| format!("{f}: {n} > {max}"))
}

/// Text from empty to thousands of characters (a short random piece repeated), multibyte
/// included, so values land below, at and far past every cap.
fn long_text() -> impl Strategy<Value = String> {
    ("[ -~é日😀]{0,12}", 0..600usize).prop_map(|(s, n)| s.repeat(n))
}

/// A tag the scanner reads, with a value of up to tens of thousands of characters that stays
/// inside its attribute or element (no quotes, angle brackets or ampersands).
fn long_fragment() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("og:title"),
        Just("og:description"),
        Just("og:image"),
        Just("og:url"),
        Just("og:type"),
        Just("og:site_name"),
        Just("author"),
        Just("article:published_time"),
        Just("og:locale"),
    ];
    let value = ("[ a-z0-9é日😀/.-]{1,12}", 1..3000usize).prop_map(|(s, n)| s.repeat(n));
    (key, value).prop_flat_map(|(k, v)| {
        prop_oneof![
            Just(format!("<meta property=\"{k}\" content=\"{v}\">")),
            Just(format!("<title>{v}</title><h1>{v}</h1>")),
            Just(format!("<link rel=\"icon\" href=\"{v}\"><img src=\"{v}\"><html lang=\"{v}\">")),
            Just(format!("<script type=\"application/ld+json\">{{\"@type\":\"Article\",\"headline\":\"{v}\",\"description\":\"{v}\",\"author\":\"{v}\",\"publisher\":{{\"name\":\"{v}\"}},\"image\":\"{v}\"}}</script>")),
        ]
    })
}

fn field() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(long_text())
}

fn any_preview() -> impl Strategy<Value = Preview> {
    let text = (field(), field(), field(), field(), field(), field());
    let urls = (field(), field(), field(), any::<Option<u32>>(), any::<Option<u32>>());
    (text, urls).prop_map(
        |((title, description, r#type, site_name, author, lang), (url, image, favicon, w, h))| Preview {
            title,
            description,
            url,
            image,
            image_width: w,
            image_height: h,
            r#type,
            site_name,
            author,
            published_time: lang.clone(),
            lang,
            favicon,
        },
    )
}

proptest! {
    #![proptest_config(fuzz_config())]

    #[test]
    fn every_extracted_field_is_within_its_cap(
        parts in proptest::collection::vec(prop_oneof![fragment(), long_fragment()], 0..16),
        ct in content_type(),
    ) {
        let p = extract(parts.concat().as_bytes(), &base(), ct.as_deref());
        prop_assert_eq!(over_cap(&p), None);
    }

    #[test]
    fn cap_bounds_any_preview_and_only_cuts(p in any_preview()) {
        let capped = cap(p.clone());
        prop_assert_eq!(over_cap(&capped), None);
        prop_assert_eq!(cap(capped.clone()), capped.clone(), "capping twice changes nothing");
        // Prose is the original or a prefix of it and an ellipsis; nothing else is rewritten.
        for (orig, out) in [(&p.title, &capped.title), (&p.description, &capped.description),
                            (&p.site_name, &capped.site_name), (&p.author, &capped.author)] {
            let (orig, out) = (orig.as_deref().unwrap_or(""), out.as_deref().unwrap_or(""));
            let kept = out.strip_suffix('…').filter(|_| out != orig).unwrap_or(out);
            prop_assert!(orig.starts_with(kept), "{kept:?} is not a prefix of the page's value");
        }
        for (orig, out) in [(&p.url, &capped.url), (&p.image, &capped.image), (&p.favicon, &capped.favicon),
                            (&p.r#type, &capped.r#type), (&p.lang, &capped.lang)] {
            prop_assert!(out.is_none() || out == orig);
        }
    }
}
