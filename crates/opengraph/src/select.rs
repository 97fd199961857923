//! The precedence rules: which source answers each field of a `Preview` (the order is
//! documented, with the reasons, in the crate header in `lib.rs`).
//!
//! Each field is an ordered list of candidate sources; the first candidate that is non-empty
//! after cleaning (and, for URLs, resolves to http(s)) wins.

use url::Url;

use crate::Preview;
use crate::jsonld::Ld;
use crate::scan::Raw;
use crate::text::{self, clean};

/// Builds the preview of an HTML page from what the scan and the JSON-LD pass found.
pub(crate) fn build(raw: &Raw, ld: &Ld, page: &Url) -> Preview {
    // <base href> changes how every relative reference resolves; only http(s) bases count.
    let base = raw
        .base
        .as_deref()
        .and_then(|b| page.join(html_escape::decode_html_entities(b).trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or_else(|| page.clone());
    let meta = |keys: &[&str]| keys.iter().find_map(|k| raw.meta(k).and_then(clean));
    let meta_url =
        |keys: &[&str]| keys.iter().find_map(|k| raw.meta(k).and_then(|v| text::resolve(&base, v)));

    let html_title = raw.titles.iter().find_map(|t| text::display(t));
    let title = ["og:title", "twitter:title"]
        .iter()
        .find_map(|k| raw.meta(k).and_then(text::display))
        .or_else(|| html_title.clone())
        .or_else(|| ld.headline.as_deref().and_then(text::display))
        .or_else(|| raw.h1s.iter().find_map(|t| text::display(t)));
    let description = ["og:description", "twitter:description", "description", "itemprop:description"]
        .iter()
        .find_map(|k| raw.meta(k).and_then(text::description))
        .or_else(|| ld.description.as_deref().and_then(text::description));
    let url = meta_url(&["og:url", "twitter:url"])
        .or_else(|| raw.canonical.as_deref().and_then(|c| text::resolve(&base, c)))
        .or_else(|| Some(page.to_string()));

    let (image, image_width, image_height) = image(raw, ld, &base);

    let r#type = meta(&["og:type"])
        .map(|t| t.to_lowercase())
        .or_else(|| ld.kind.as_deref().and_then(type_from_schema).map(str::to_string))
        .or_else(|| Some("website".to_string()));
    let site_name = ld
        .publisher
        .as_deref()
        .and_then(clean)
        .or_else(|| meta(&["og:site_name", "application-name", "apple-mobile-web-app-title"]))
        .or_else(|| html_title.as_deref().and_then(title_suffix));
    let author = ld
        .author
        .as_deref()
        .and_then(text::author)
        .or_else(|| {
            [
                "author",
                "article:author",
                "og:article:author",
                "dc.creator",
                "parsely-author",
                "sailthru.author",
            ]
            .iter()
            .find_map(|k| raw.meta(k).and_then(text::author))
        })
        .or_else(|| raw.bylines.iter().find_map(|b| text::author(b)))
        .or_else(|| raw.meta("twitter:creator").and_then(text::author));
    let published_time = meta(&["article:published_time", "og:article:published_time"])
        .or_else(|| ld.published.as_deref().and_then(clean))
        .or_else(|| {
            meta(&[
                "itemprop:datepublished",
                "article:published",
                "pubdate",
                "publishdate",
                "publish-date",
                "date",
                "dc.date.issued",
                "dc.date",
                "dcterms.created",
                "sailthru.date",
                "parsely-pub-date",
            ])
        })
        .or_else(|| raw.time.as_deref().and_then(clean))
        .and_then(|d| text::date(&d));
    let lang = raw
        .lang
        .as_deref()
        .and_then(text::lang)
        .or_else(|| {
            ["og:locale", "itemprop:inlanguage", "language", "content-language"]
                .iter()
                .find_map(|k| raw.meta(k).and_then(text::lang))
        })
        .or_else(|| ld.lang.as_deref().and_then(text::lang));
    let favicon = favicon(raw, &base, page);

    Preview {
        title,
        description,
        url,
        image,
        image_width,
        image_height,
        r#type,
        site_name,
        author,
        published_time,
        lang,
        favicon,
    }
}

/// The site part of a `<title>` like "Story | Site" or "Story - Site": the last segment, when
/// there are several.
fn title_suffix(title: &str) -> Option<String> {
    let last = [" | ", " - ", " — ", " – "]
        .iter()
        .filter_map(|sep| title.rsplit_once(sep))
        .map(|(_, s)| s)
        .min_by_key(|s| s.len())?;
    clean(last)
}

/// The image and, when the same source states them, its pixel size.
fn image(raw: &Raw, ld: &Ld, base: &Url) -> (Option<String>, Option<u32>, Option<u32>) {
    let size = |w: &str, h: &str| (raw.meta(w).and_then(text::pixels), raw.meta(h).and_then(text::pixels));
    const SOURCES: &[(&str, &str, &str)] = &[
        ("og:image:secure_url", "og:image:width", "og:image:height"),
        ("og:image:url", "og:image:width", "og:image:height"),
        ("og:image", "og:image:width", "og:image:height"),
        ("twitter:image:src", "twitter:image:width", "twitter:image:height"),
        ("twitter:image", "twitter:image:width", "twitter:image:height"),
        ("itemprop:image", "", ""),
        ("itemprop:thumbnailurl", "", ""),
    ];
    for (key, w, h) in SOURCES {
        if let Some(url) = raw.meta(key).and_then(|v| text::resolve(base, v)) {
            let (width, height) = size(w, h);
            return (Some(url), width, height);
        }
    }
    if let Some(img) = &ld.image
        && let Some(url) = text::resolve(base, &img.url)
    {
        return (Some(url), img.width, img.height);
    }
    // Last resort: the first image of the page.
    (raw.img.as_deref().and_then(|src| text::resolve(base, src)), None, None)
}

/// The page's icon: among `<link rel>` values containing "icon" (`icon`, `shortcut icon`,
/// `apple-touch-icon`…), the one a preview renders best, ranked as metascraper ranks them:
/// declared (or file-name) width times a format weight (PNG and apple/android icons 5, JPEG 4,
/// SVG 3, ICO 2), document order among equals; `mask-icon` (a monochrome SVG) is never chosen.
/// With none, `/favicon.ico` of the page's origin (browsers request it; its existence is not
/// checked: this crate does no network).
fn favicon(raw: &Raw, base: &Url, page: &Url) -> Option<String> {
    let mut best: Option<(u64, String)> = None;
    for icon in raw.icons.iter().filter(|i| !i.rel.contains("mask-icon")) {
        let Some(url) = text::resolve(base, &icon.href) else { continue };
        let score = icon_score(&url, icon.sizes.as_deref());
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, url));
        }
    }
    best.map(|(_, url)| url).or_else(|| page.join("/favicon.ico").ok().map(|u| u.to_string()))
}

fn icon_score(url: &str, sizes: Option<&str>) -> u64 {
    let lower = url.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or("");
    let file = path.rsplit('/').next().unwrap_or("");
    // "32x32" from the sizes attribute, else from the file name ("favicon-192x192.png").
    let width = sizes
        .and_then(|s| s.to_ascii_lowercase().split_whitespace().find_map(size_of))
        .or_else(|| file.split(|c: char| !c.is_ascii_alphanumeric()).find_map(size_of))
        .unwrap_or(1);
    let weight = if lower.contains("apple") || lower.contains("android") || path.ends_with("png") {
        5
    } else if path.ends_with("jpg") || path.ends_with("jpeg") {
        4
    } else if path.ends_with("svg") {
        3
    } else if path.ends_with("ico") {
        2
    } else {
        1
    };
    u64::from(width).saturating_mul(weight)
}

fn size_of(token: &str) -> Option<u32> {
    let (w, h) = token.split_once('x')?;
    let w = w.rsplit(|c: char| !c.is_ascii_digit()).next()?.parse::<u32>().ok()?;
    h.chars().next().filter(char::is_ascii_digit)?;
    Some(w.min(4096))
}

/// Open Graph type for a schema.org `@type` when the page has no `og:type`.
fn type_from_schema(kind: &str) -> Option<&'static str> {
    let k = kind.to_ascii_lowercase();
    Some(match k.as_str() {
        "videoobject" => "video.other",
        "product" => "product",
        "book" => "book",
        "profilepage" | "person" => "profile",
        "musicrecording" => "music.song",
        "musicalbum" => "music.album",
        "movie" => "video.movie",
        "tvepisode" => "video.episode",
        _ if k.ends_with("article") || k.ends_with("posting") || k == "report" || k == "review" => "article",
        _ => return None,
    })
}
