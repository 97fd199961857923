//! schema.org JSON-LD: the fields a preview needs, read from every
//! `<script type="application/ld+json">` of the page.
//!
//! Why this shape: real pages put one object, an array of objects, or an `@graph` whose nodes
//! point at each other by `@id` (Yoast, the most common WordPress plugin, puts the author and
//! publisher in separate nodes). Nodes are ranked so that the page's main thing (an Article, a
//! Product, a VideoObject…) answers before the WebPage wrapper, and both before site-wide nodes
//! (WebSite, Organization, BreadcrumbList), whose `name` is never a page title.

use std::collections::HashMap;

use serde_json::Value;

/// Fields found in JSON-LD, each still raw (cleaned by the caller).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Ld {
    pub headline: Option<String>,
    pub description: Option<String>,
    pub image: Option<LdImage>,
    pub author: Option<String>,
    pub published: Option<String>,
    pub publisher: Option<String>,
    pub lang: Option<String>,
    /// `@type` of the main node, e.g. `NewsArticle`.
    pub kind: Option<String>,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct LdImage {
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

const CONTENT_TYPES: &[&str] = &[
    "article",
    "newsarticle",
    "blogposting",
    "report",
    "scholarlyarticle",
    "techarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "reviewnewsarticle",
    "liveblogposting",
    "socialmediaposting",
    "discussionforumposting",
    "review",
    "recipe",
    "videoobject",
    "audioobject",
    "podcastepisode",
    "product",
    "event",
    "movie",
    "book",
    "course",
    "howto",
    "musicrecording",
    "musicalbum",
    "tvepisode",
    "creativework",
    "jobposting",
    "softwareapplication",
    "qapage",
    "question",
];
const PAGE_TYPES: &[&str] =
    &["webpage", "itempage", "aboutpage", "collectionpage", "profilepage", "faqpage", "searchresultspage"];

/// Extracts from the bodies of all JSON-LD scripts, in document order.
pub(crate) fn extract(scripts: &[String]) -> Ld {
    let mut nodes = Vec::new();
    for script in scripts {
        if let Some(value) = parse(script) {
            flatten(value, &mut nodes, 0);
        }
    }
    let ids: HashMap<&str, &Value> =
        nodes.iter().filter_map(|n| Some((n.get("@id")?.as_str()?, n))).collect();
    let rank = |n: &Value| {
        let types = types(n);
        if types.iter().any(|t| CONTENT_TYPES.contains(&t.as_str())) {
            0
        } else if types.iter().any(|t| PAGE_TYPES.contains(&t.as_str())) {
            1
        } else {
            2
        }
    };
    let mut ranked: Vec<(u8, &Value)> = nodes.iter().map(|n| (rank(n), n)).collect();
    ranked.sort_by_key(|(r, _)| *r);
    // Page-level fields come only from content and page nodes, never from site-wide ones.
    let main: Vec<&Value> = ranked.iter().filter(|(r, _)| *r < 2).map(|(_, n)| *n).collect();
    let first = |f: &dyn Fn(&Value) -> Option<String>| main.iter().find_map(|n| f(n));
    let site_name = || {
        nodes.iter().filter(|n| types(n).iter().any(|t| t == "website")).find_map(|n| string(n.get("name")?))
    };

    Ld {
        headline: first(&|n| n.get("headline").and_then(string).or_else(|| n.get("name").and_then(string))),
        description: first(&|n| string(n.get("description")?)),
        image: main.iter().find_map(|n| image(n.get("image").or_else(|| n.get("thumbnailUrl"))?, &ids, 0)),
        author: first(&|n| names(n.get("author").or_else(|| n.get("creator"))?, &ids)),
        published: first(&|n| {
            ["datePublished", "uploadDate", "dateCreated"].iter().find_map(|k| string(n.get(*k)?))
        }),
        publisher: first(&|n| names(n.get("publisher")?, &ids)).or_else(site_name),
        lang: first(&|n| match n.get("inLanguage")? {
            Value::Object(o) => string(o.get("alternateName").or_else(|| o.get("name"))?),
            v => string(v),
        }),
        kind: main.first().and_then(|n| n.get("@type")).and_then(|t| match t {
            Value::Array(a) => a.iter().find_map(string),
            t => string(t),
        }),
    }
}

/// Parses one script body; pages often leave raw newlines or tabs inside strings (invalid JSON
/// that browsers' consumers tolerate) or wrap the body in `<!-- … -->` or CDATA markers.
fn parse(body: &str) -> Option<Value> {
    let trimmed = body
        .trim()
        .trim_start_matches("<!--")
        .trim_end_matches("-->")
        .trim()
        .trim_start_matches("//<![CDATA[")
        .trim_end_matches("//]]>")
        .trim()
        .trim_end_matches(';');
    serde_json::from_str(trimmed).ok().or_else(|| {
        let repaired: String = trimmed.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        serde_json::from_str(&repaired).ok()
    })
}

/// Collects objects from arrays and `@graph` containers; depth-limited against hostile nesting.
fn flatten(value: Value, out: &mut Vec<Value>, depth: u8) {
    if depth > 4 {
        return;
    }
    match value {
        Value::Array(items) => items.into_iter().for_each(|v| flatten(v, out, depth + 1)),
        Value::Object(mut map) => {
            if let Some(graph) = map.remove("@graph") {
                flatten(graph, out, depth + 1);
            }
            if map.keys().any(|k| !k.starts_with('@')) {
                out.push(Value::Object(map));
            }
        }
        _ => {}
    }
}

/// Lowercased `@type` values of a node (a string or an array of strings).
fn types(node: &Value) -> Vec<String> {
    match node.get("@type") {
        Some(Value::String(s)) => vec![s.to_ascii_lowercase()],
        Some(Value::Array(a)) => a.iter().filter_map(|t| Some(t.as_str()?.to_ascii_lowercase())).collect(),
        _ => Vec::new(),
    }
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Array(a) => a.iter().find_map(string),
        _ => None,
    }
}

/// A person or organisation name: a string, `{name}`, an `@id` reference, or an array of
/// those (joined with " and ", as metascraper joins them).
fn names(v: &Value, ids: &HashMap<&str, &Value>) -> Option<String> {
    let one = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) if !crate::text::looks_like_url(s) => string(v),
            Value::Object(o) => o.get("name").and_then(string).or_else(|| {
                let target = ids.get(o.get("@id")?.as_str()?)?;
                string(target.get("name")?)
            }),
            _ => None,
        }
    };
    match v {
        Value::Array(items) => {
            let all: Vec<String> = items.iter().filter_map(one).collect();
            (!all.is_empty()).then(|| all.join(" and "))
        }
        v => one(v),
    }
}

fn image(v: &Value, ids: &HashMap<&str, &Value>, depth: u8) -> Option<LdImage> {
    if depth > 3 {
        return None;
    }
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(LdImage { url: s.clone(), ..LdImage::default() }),
        Value::Array(items) => items.iter().find_map(|i| image(i, ids, depth + 1)),
        Value::Object(o) => {
            let url = o.get("url").or_else(|| o.get("contentUrl")).and_then(string);
            match url {
                Some(url) => Some(LdImage {
                    url,
                    width: o.get("width").and_then(dimension),
                    height: o.get("height").and_then(dimension),
                }),
                None => image(ids.get(o.get("@id")?.as_str()?)?, ids, depth + 1),
            }
        }
        _ => None,
    }
}

fn dimension(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0),
        Value::String(s) => crate::text::pixels(s),
        Value::Object(o) => dimension(o.get("value")?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(s: &str) -> Ld {
        extract(&[s.to_string()])
    }

    #[test]
    fn article_with_nested_objects() {
        let got = ld(r#"{"@context":"https://schema.org","@type":"NewsArticle","headline":"H",
            "image":[{"@type":"ImageObject","url":"/a.jpg","width":800,"height":"600"}],
            "author":[{"@type":"Person","name":"A"},{"name":"B"}],"datePublished":"2020-01-02",
            "publisher":{"@type":"Organization","name":"P"}}"#);
        assert_eq!(got.headline.as_deref(), Some("H"));
        assert_eq!(got.image, Some(LdImage { url: "/a.jpg".into(), width: Some(800), height: Some(600) }));
        assert_eq!(got.author.as_deref(), Some("A and B"));
        assert_eq!(got.publisher.as_deref(), Some("P"));
        assert_eq!(got.kind.as_deref(), Some("NewsArticle"));
    }

    #[test]
    fn graph_with_id_references_prefers_article_over_website() {
        let got = ld(r##"{"@graph":[{"@type":"WebSite","@id":"#w","name":"Site"},
            {"@type":"Person","@id":"#p","name":"Ann"},
            {"@type":"Article","headline":"Title","author":{"@id":"#p"}}]}"##);
        assert_eq!(got.headline.as_deref(), Some("Title"));
        assert_eq!(got.author.as_deref(), Some("Ann"));
        assert_eq!(got.publisher.as_deref(), Some("Site"));
    }

    #[test]
    fn tolerates_raw_newlines_and_garbage() {
        assert_eq!(ld("{\"@type\":\"WebPage\",\"name\":\"a\nb\"}").headline.as_deref(), Some("a b"));
        assert_eq!(ld("{not json"), Ld::default());
        assert_eq!(ld("[[[[[[[[[[[{}]]]]]]]]]]]"), Ld::default());
    }
}
