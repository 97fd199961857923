//! Every cache key, named in one place (the design's key table).
//!
//! | key | value | TTL |
//! |---|---|---|
//! | `url:{sha256 of the normalized URL}` | preview JSON, or a short-lived failure marker | 2 days / minutes |
//! | `lock:url:{same hash}` | marker of the one fetch in flight for that URL | the fetch timeout |
//! | `rl:{caller}:{minute}` | scraps counted in that minute | 5 minutes |
//! | `post:{post_id}` | the post's JSON | 7 days |
//! | `plf:{user_id}` | the token of the newest reservation to fill the absent `pl:{user_id}`, deleted by an add to the absent list; placed with the list | 10 s |
//! | `pl:{user_id}` | the user's newest ids: a sorted set, every score 0, members the ids as 20-digit zero-padded decimals, ordered by member (exact for 64-bit ids, unlike a double score), plus the member `00000000000000000000` marking the list as known | 7 days, refreshed on write |
//!
//! Keys that must live together (a caller's rate-limit minutes, checked by one script) are
//! placed on the ring by a shared *placement* string, not by the key itself.

/// The cache key of a link preview, from the hex digest of its normalized URL.
pub fn preview(url_digest: &str) -> String {
    format!("url:{url_digest}")
}

/// The lock held while one instance fetches a URL that several want.
pub fn preview_lock(url_digest: &str) -> String {
    format!("lock:url:{url_digest}")
}

/// A caller's rate-limit counter for one minute (minutes since the Unix epoch).
pub fn rate_minute(caller: &str, minute: u64) -> String {
    format!("rl:{caller}:{minute}")
}

/// Where a caller's rate-limit keys live: all on one node, so one script sees them all.
pub fn rate_placement(caller: &str) -> String {
    format!("rl:{caller}")
}

/// A post's cache key.
pub fn post(post_id: u64) -> String {
    format!("post:{post_id}")
}

/// A user's list of post ids.
pub fn post_list(user_id: &str) -> String {
    format!("pl:{user_id}")
}

/// The reservation to fill a user's absent list (placed on the ring with the list).
pub fn post_list_fill(user_id: &str) -> String {
    format!("plf:{user_id}")
}

/// An id as a list member: fixed width, so member order is numeric order.
pub fn list_member(post_id: u64) -> String {
    format!("{post_id:020}")
}

/// The member that keeps an empty list in existence; no id is 0.
pub const LIST_SENTINEL: &str = "00000000000000000000";
