//! `extract` never panics: on arbitrary bytes with arbitrary content types, and on random
//! HTML-ish documents built from the tags and attributes the scanner looks at.

use opengraph::extract;
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
