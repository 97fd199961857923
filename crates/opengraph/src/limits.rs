//! Upper bounds on every field of a [`Preview`], applied once, by [`cap`], to the finished
//! preview of every extraction path.
//!
//! Why: a preview travels inside its post (the queue message, the cache, the table item, every
//! read), and every field comes from a page anyone can write. Unbounded, one page with a 1 MB
//! `og:title` makes every post that links it too large for the queue. Capped, a preview's JSON
//! is at most about 15 KB whatever the page says.
//!
//! How each kind of field is bounded:
//! - prose (title, description, site name, author) is shortened to its cap in characters: cut
//!   at the last word boundary when one is near the end (else at a character boundary, as in
//!   text without spaces) and ended with "…", so a reader sees that it goes on;
//! - URLs longer than [`MAX_URL_BYTES`] are dropped, never cut: a cut URL points somewhere else
//!   (Mastodon likewise refuses a preview card whose URL is over its limit). With the image go
//!   its width and height;
//! - tokens (type, language, date) over their cap are dropped too: half a date is not a date.
//!
//! The caps are far above what real pages carry (a `<title>` past 200 characters is rare, a
//! meta description past 300 rarer), so they only ever bite on junk or hostile pages.

use crate::Preview;

/// Longest title, in characters: twice what a long headline needs.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest description, in characters: the length of a post's own contents.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// Longest site name, in characters.
pub const MAX_SITE_NAME_CHARS: usize = 200;
/// Longest author line, in characters (several JSON-LD authors are joined into one).
pub const MAX_AUTHOR_CHARS: usize = 200;
/// Longest `type`, in characters (`video.tv_show` and custom `namespace:type` values fit).
pub const MAX_TYPE_CHARS: usize = 64;
/// Longest `published_time`, in characters: ISO dates are normalised to 24; a date kept as
/// written ("Tuesday, May 24, 2016 at 4:49 PM EDT") fits.
pub const MAX_PUBLISHED_TIME_CHARS: usize = 64;
/// Longest `lang`, in characters: the length RFC 5646 asks implementations to accept for a
/// whole language tag (the extractor keeps only the 2-3 letter primary subtag).
pub const MAX_LANG_CHARS: usize = 35;
/// Longest URL (`url`, `image`, `favicon`), in bytes: the limit applied to the links posts
/// carry, and what browsers and CDNs reliably handle.
pub const MAX_URL_BYTES: usize = 2_048;

/// `preview` with every field within its cap. Destructures the whole `Preview`, so a field
/// added later cannot compile without a decision here.
pub fn cap(preview: Preview) -> Preview {
    let Preview {
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
    } = preview;
    let image = image.filter(|u| u.len() <= MAX_URL_BYTES);
    // A size is only meaningful for the image it describes.
    let (image_width, image_height) =
        if image.is_some() { (image_width, image_height) } else { (None, None) };
    Preview {
        title: title.map(|t| shorten(t, MAX_TITLE_CHARS)),
        description: description.map(|t| shorten(t, MAX_DESCRIPTION_CHARS)),
        url: url.filter(|u| u.len() <= MAX_URL_BYTES),
        image,
        image_width,
        image_height,
        r#type: r#type.filter(|t| fits(t, MAX_TYPE_CHARS)),
        site_name: site_name.map(|t| shorten(t, MAX_SITE_NAME_CHARS)),
        author: author.map(|t| shorten(t, MAX_AUTHOR_CHARS)),
        published_time: published_time.filter(|t| fits(t, MAX_PUBLISHED_TIME_CHARS)),
        lang: lang.filter(|t| fits(t, MAX_LANG_CHARS)),
        favicon: favicon.filter(|u| u.len() <= MAX_URL_BYTES),
    }
}

/// At most `max` characters, without counting past `max + 1` (a hostile value may be megabytes).
fn fits(text: &str, max: usize) -> bool {
    text.chars().nth(max).is_none()
}

/// `text` unchanged when it fits in `max` characters, else its start and "…", `max` characters
/// in all: cut after the last whole word when that keeps at least half, else mid-word (text
/// without spaces, a single giant token), always on a character boundary.
fn shorten(text: String, max: usize) -> String {
    if fits(&text, max) {
        return text;
    }
    // Room for the ellipsis. `String` slicing by a `char_indices` offset is always on a
    // boundary; `fits` failing guarantees the offset exists.
    let keep = max.saturating_sub(1);
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let head = text.get(..end).unwrap_or_default();
    let next_is_space = text.get(end..).and_then(|rest| rest.chars().next()).is_some_and(char::is_whitespace);
    let at_word = if next_is_space {
        head
    } else {
        match head.rfind(char::is_whitespace) {
            Some(i) if head.get(..i).is_some_and(|w| w.chars().count() >= keep / 2) => {
                head.get(..i).unwrap_or(head)
            }
            _ => head,
        }
    };
    // No dangling separator or stop before the ellipsis ("word, …", "word.…").
    let trimmed = at_word.trim_end_matches(|c: char| c.is_whitespace() || ",;:.-–—…".contains(c));
    let body = if trimmed.is_empty() { head } else { trimmed };
    format!("{body}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn page() -> Url {
        Url::parse("https://example.com/a/page.html").unwrap()
    }

    fn chars(s: &Option<String>) -> usize {
        s.as_deref().map_or(0, |s| s.chars().count())
    }

    #[test]
    fn a_megabyte_of_title_description_and_image_url_is_capped() {
        let huge = "word ".repeat(200_000);
        let long_url = format!("https://cdn.example.com/{}.png", "a".repeat(1_000_000));
        let html = format!(
            r#"<html><head><meta property="og:title" content="{huge}">
            <meta property="og:description" content="{huge}">
            <meta property="og:image" content="{long_url}">
            <meta property="og:image:width" content="1200">
            <meta property="og:site_name" content="{huge}"><meta name="author" content="{huge}">
            <link rel="icon" href="{long_url}"></head></html>"#
        );
        let p = crate::extract(html.as_bytes(), &page(), Some("text/html"));
        assert_eq!(chars(&p.title), MAX_TITLE_CHARS, "{:?}", p.title);
        assert!(p.title.as_deref().unwrap().ends_with("word…"));
        assert!(chars(&p.description) <= MAX_DESCRIPTION_CHARS);
        assert!(p.description.as_deref().unwrap().ends_with("word…"));
        assert!(chars(&p.site_name) <= MAX_SITE_NAME_CHARS);
        assert_eq!(p.author, None, "the extractor already refuses a 128+ character byline");
        assert_eq!((p.image, p.image_width), (None, None), "a too-long image URL is dropped, with its size");
        // Dropped, not replaced by `/favicon.ico`: the cap runs on the finished preview.
        assert_eq!(p.favicon, None);
        assert_eq!(p.url.as_deref(), Some("https://example.com/a/page.html"));
    }

    #[test]
    fn multibyte_text_is_cut_on_a_char_boundary() {
        let text = "日本語のテキスト".repeat(500);
        let out = shorten(text.clone(), MAX_TITLE_CHARS);
        assert_eq!(out.chars().count(), MAX_TITLE_CHARS);
        let kept = out.strip_suffix('…').unwrap();
        assert!(text.starts_with(kept));
        // 4-byte characters (emoji) too.
        let out = shorten("😀".repeat(2_000), MAX_DESCRIPTION_CHARS);
        assert_eq!(out, format!("{}…", "😀".repeat(MAX_DESCRIPTION_CHARS - 1)));
    }

    #[test]
    fn cuts_at_a_word_unless_that_loses_too_much() {
        assert_eq!(shorten("alpha beta gamma".into(), 12), "alpha beta…");
        assert_eq!(shorten("alpha, beta gamma".into(), 9), "alpha…");
        assert_eq!(shorten("a bcdefghijklmnop".into(), 10), "a bcdefgh…", "one short word then a long one");
        assert_eq!(shorten("exactly ten".into(), 11), "exactly ten");
    }

    #[test]
    fn urls_are_dropped_past_the_cap_not_cut() {
        let at = |n: usize| format!("https://e.com/{}", "a".repeat(n - "https://e.com/".len()));
        let p = cap(Preview {
            url: Some(at(MAX_URL_BYTES)),
            favicon: Some(at(MAX_URL_BYTES + 1)),
            ..Preview::default()
        });
        assert_eq!(p.url.map(|u| u.len()), Some(MAX_URL_BYTES));
        assert_eq!(p.favicon, None);
    }

    #[test]
    fn tokens_over_their_cap_are_dropped() {
        let p = cap(Preview {
            r#type: Some("t".repeat(MAX_TYPE_CHARS + 1)),
            lang: Some("en".into()),
            published_time: Some("9".repeat(MAX_PUBLISHED_TIME_CHARS + 1)),
            ..Preview::default()
        });
        assert_eq!((p.r#type, p.lang.as_deref(), p.published_time), (None, Some("en"), None));
    }

    #[test]
    fn a_preview_within_its_caps_is_unchanged() {
        let p = Preview {
            title: Some("T".repeat(MAX_TITLE_CHARS)),
            description: Some("d".into()),
            url: Some("https://e.com/".into()),
            image: Some("https://e.com/i.png".into()),
            image_width: Some(10),
            image_height: Some(20),
            r#type: Some("article".into()),
            site_name: Some("S".into()),
            author: Some("A".into()),
            published_time: Some("2016-05-24T20:49:03.000Z".into()),
            lang: Some("en".into()),
            favicon: Some("https://e.com/favicon.ico".into()),
        };
        assert_eq!(cap(p.clone()), p);
    }
}
