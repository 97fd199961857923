//! Every fixture page in `tests/fixtures/` against the preview written beside it
//! (`<name>.json`: the file, the page URL, the Content-Type given, and the expected preview).
//!
//! The pages are hand-written, one per source and per messy case (charsets as real bytes in
//! their encodings), so a change of precedence or normalisation shows up as a named diff.

mod common;

use common::{cases, dir};
use opengraph::extract;
use url::Url;

#[test]
fn every_fixture_matches_its_expected_preview() {
    let cases = cases();
    assert!(cases.len() >= 20, "fixtures missing: {}", cases.len());
    let mut failures = Vec::new();
    for (name, case) in &cases {
        let body = std::fs::read(dir().join(&case.file)).unwrap();
        let url = Url::parse(&case.page_url).unwrap();
        let got = extract(&body, &url, case.content_type.as_deref());
        if got != case.expected {
            failures.push(format!("{name}:\n  got      {got:?}\n  expected {:?}", case.expected));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn non_utf8_fixtures_are_really_not_utf8() {
    for name in ["shift_jis", "euc_kr", "windows_1251_header", "iso_8859_1"] {
        let body = std::fs::read(dir().join(format!("{name}.html"))).unwrap();
        assert!(std::str::from_utf8(&body).is_err(), "{name} should be stored in its legacy encoding");
    }
}

#[test]
fn charset_fixtures_decode_to_the_right_text() {
    let by_name: std::collections::HashMap<_, _> = cases().into_iter().collect();
    let title = |n: &str| by_name[n].expected.title.clone().unwrap();
    assert_eq!(title("shift_jis"), "東京の天気は晴れです");
    assert_eq!(title("euc_kr"), "서울의 날씨는 맑음");
    assert_eq!(title("windows_1251_header"), "Погода в Москве");
    assert_eq!(title("iso_8859_1"), "Été à Paris : café crème");
}
