//! HTTP routes of the guid function (API Gateway HTTP API, payload 2.0).
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/guid` | `{"id": "<decimal>"}` |
//! | `GET /v1/guid?count=N` (1..=1000) | `{"ids": ["<decimal>", ...]}`, increasing |
//! | `GET /v1/guid/{id}` | the id's timestamp (RFC 3339 and Unix ms), datacenter, worker, sequence |
//! | `GET /api/v1/guid` | the reference's shape `{"guid": <number>, "guid_str": "<decimal>"}` |
//!
//! Ids are strings in the v1 API because they exceed 2^53, the largest integer a JSON number
//! keeps exactly in JavaScript; the compatibility route keeps the reference's number as well.
//! Anything else is a 404 (or 405) with the JSON error body.

use chassis::routes::{Route, get};
use chassis::{ApiError, json_response};
use domain::IdSource;
use domain::ops::decode_id::DecodeId;
use domain::ops::issue_ids::{IssueIds, Issued};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Issue,
    Decode,
    CompatIssue,
}

const ROUTES: &[Route<Op>] =
    &[get("/v1/guid", Op::Issue), get("/v1/guid/{}", Op::Decode), get("/api/v1/guid", Op::CompatIssue)];

#[derive(Serialize)]
struct One {
    id: String,
}

#[derive(Serialize)]
struct Many {
    ids: Vec<String>,
}

#[derive(Serialize)]
struct Compat {
    guid: u64,
    guid_str: String,
}

/// The Lambda handler: every outcome is an `Ok` response.
pub async fn handle(ids: &impl IdSource, req: Request) -> Result<Response<Body>, Error> {
    Ok(route(ids, &req).await.unwrap_or_else(ApiError::into_response))
}

async fn route(ids: &impl IdSource, req: &Request) -> Result<Response<Body>, ApiError> {
    let route = chassis::routes::resolve(req, ROUTES)?;
    Ok(match route.op {
        Op::Issue => match IssueIds::parse(chassis::request::query(req, "count"))?.apply(ids).await? {
            Issued::One(id) => json_response(StatusCode::OK, &One { id: id.to_string() }),
            Issued::Many(ids) => {
                json_response(StatusCode::OK, &Many { ids: ids.iter().map(u64::to_string).collect() })
            }
        },
        Op::Decode => json_response(StatusCode::OK, &DecodeId::parse(route.param(0))?.apply()),
        Op::CompatIssue => {
            let issued = IssueIds::ONE.apply(ids).await?;
            let id = issued.first().ok_or_else(|| ApiError::internal("issuer returned no id"))?;
            json_response(StatusCode::OK, &Compat { guid: id, guid_str: id.to_string() })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::fakes::MemoryLeaseStore;
    use domain::{IdIssuer, IssuerConfig};
    use snowflake::SystemClock;
    use std::collections::HashSet;

    const CONFIG: IssuerConfig = IssuerConfig { ttl_ms: 60_000, margin_ms: 2_000, max_backwards_ms: 100 };

    fn issuer(slots: u16) -> IdIssuer<MemoryLeaseStore, SystemClock> {
        IdIssuer::new(MemoryLeaseStore::new(slots), SystemClock, "test", CONFIG)
    }

    fn event(file: &str) -> Request {
        let ev: serde_json::Value = chassis::fixtures::event(file);
        lambda_http::request::from_str(&ev.to_string()).unwrap()
    }

    fn get(path_and_query: &str) -> Request {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut ev: serde_json::Value = chassis::fixtures::event("guid-one.json");
        ev["rawPath"] = path.into();
        ev["requestContext"]["http"]["path"] = path.into();
        ev["rawQueryString"] = query.into();
        let params: serde_json::Map<String, serde_json::Value> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        if !params.is_empty() {
            ev["queryStringParameters"] = params.into();
        }
        lambda_http::request::from_str(&ev.to_string()).unwrap()
    }

    async fn call(
        issuer: &IdIssuer<MemoryLeaseStore, SystemClock>,
        req: Request,
    ) -> (StatusCode, serde_json::Value) {
        let res = handle(issuer, req).await.unwrap();
        assert_eq!(res.headers()["content-type"], "application/json");
        (res.status(), serde_json::from_slice(res.body().as_ref()).unwrap())
    }

    fn assert_error(status: StatusCode, body: &serde_json::Value, want_status: u16, want_code: &str) {
        assert_eq!(status.as_u16(), want_status, "{body}");
        assert_eq!(body["code"], want_code);
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    #[tokio::test]
    async fn one_id_as_a_decimal_string() {
        let (s, b) = call(&issuer(4), event("guid-one.json")).await;
        assert_eq!(s, StatusCode::OK);
        let id: u64 = b["id"].as_str().unwrap().parse().unwrap();
        assert!(snowflake::decode(id).is_some());
    }

    #[tokio::test]
    async fn a_thousand_distinct_increasing_ids() {
        let (s, b) = call(&issuer(4), event("guid-batch.json")).await;
        assert_eq!(s, StatusCode::OK);
        let ids: Vec<u64> =
            b["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().parse().unwrap()).collect();
        assert_eq!(ids.len(), 1_000);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1_000);
    }

    #[tokio::test]
    async fn bad_counts_are_400() {
        let i = issuer(4);
        for q in ["count=0", "count=5000", "count=abc", "count=-1", "count=1.5", "count="] {
            let (s, b) = call(&i, get(&format!("/v1/guid?{q}"))).await;
            if q == "count=" {
                // An empty value is dropped by API Gateway's parameter map: the default count.
                assert!(s == StatusCode::OK || s == StatusCode::BAD_REQUEST, "{q}: {s}");
                continue;
            }
            assert_error(s, &b, 400, "invalid_count");
        }
        let (s, b) = call(&i, event("guid-bad-count.json")).await;
        assert_error(s, &b, 400, "invalid_count");
    }

    #[tokio::test]
    async fn decode_round_trips_an_issued_id() {
        let i = issuer(4);
        let (_, b) = call(&i, get("/v1/guid")).await;
        let id = b["id"].as_str().unwrap().to_string();
        let (s, d) = call(&i, get(&format!("/v1/guid/{id}"))).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(d["id"], id.as_str());
        assert_eq!((d["datacenter"].as_u64(), d["worker"].as_u64()), (Some(0), Some(0)));
        let ts = time::OffsetDateTime::parse(
            d["timestamp"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!((ts.unix_timestamp_nanos() / 1_000_000) as u64, d["timestamp_ms"].as_u64().unwrap());
    }

    #[tokio::test]
    async fn decode_of_the_sample_event() {
        let (s, d) = call(&issuer(1), event("guid-decode.json")).await;
        assert_eq!(s, StatusCode::OK);
        let raw: u64 = 301_035_209_351_393_280;
        assert_eq!(d["timestamp_ms"].as_u64().unwrap(), snowflake::EPOCH_UNIX_MS + (raw >> 22));
        assert_eq!(d["sequence"], 0);
    }

    #[tokio::test]
    async fn malformed_ids_are_400() {
        let i = issuer(1);
        for id in ["abc", "-1", "1e5", "18446744073709551616", "9223372036854775808", "%20", "12a"] {
            let (s, b) = call(&i, get(&format!("/v1/guid/{id}"))).await;
            assert_error(s, &b, 400, "invalid_id");
        }
    }

    #[tokio::test]
    async fn compat_route_has_the_reference_shape() {
        let (s, b) = call(&issuer(1), event("guid-compat.json")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(b["guid"].is_u64());
        assert_eq!(b["guid"].as_u64().unwrap().to_string(), b["guid_str"].as_str().unwrap());
    }

    #[tokio::test]
    async fn unknown_route_and_method_are_json_errors() {
        let i = issuer(1);
        let (s, b) = call(&i, event("guid-unknown-route.json")).await;
        assert_error(s, &b, 404, "not_found");
        for p in ["/v1/guid/1/2", "/v1", "/", "/api/v1/guid/x"] {
            let (s, b) = call(&i, get(p)).await;
            assert_error(s, &b, 404, "not_found");
        }
        let mut ev: serde_json::Value = chassis::fixtures::event("guid-one.json");
        ev["requestContext"]["http"]["method"] = "POST".into();
        let (s, b) = call(&i, lambda_http::request::from_str(&ev.to_string()).unwrap()).await;
        assert_error(s, &b, 405, "method_not_allowed");
    }

    #[tokio::test]
    async fn no_free_worker_id_is_503_never_a_duplicate() {
        let store = std::sync::Arc::new(MemoryLeaseStore::new(1));
        let a = IdIssuer::new(std::sync::Arc::clone(&store), SystemClock, "a", CONFIG);
        let b = IdIssuer::new(std::sync::Arc::clone(&store), SystemClock, "b", CONFIG);
        assert_eq!(handle(&a, get("/v1/guid")).await.unwrap().status(), StatusCode::OK);
        let res = handle(&b, get("/v1/guid")).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(res.body().as_ref()).unwrap();
        assert_error(res.status(), &body, 503, "no_worker_id");
        assert_eq!(
            res.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..]),
            "temporary: retry"
        );
    }

    #[tokio::test]
    async fn lease_store_down_is_503() {
        let store = MemoryLeaseStore::new(1);
        store.set_down(true);
        let i = IdIssuer::new(store, SystemClock, "a", CONFIG);
        let (s, b) = call(&i, get("/v1/guid")).await;
        assert_error(s, &b, 503, "lease_unavailable");
    }
}
