//! Routing, the same way in every function: a table of routes matched by path segments, and the
//! 404 or 405 for a request no route takes decided here, once.

use crate::http::ApiError;
use lambda_http::Request;

/// A method and a path pattern; each `{}` segment of `path` captures one path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<Op> {
    pub method: &'static str,
    pub path: &'static str,
    pub op: Op,
}

pub const fn get<Op>(path: &'static str, op: Op) -> Route<Op> {
    Route { method: "GET", path, op }
}

pub const fn post<Op>(path: &'static str, op: Op) -> Route<Op> {
    Route { method: "POST", path, op }
}

/// The route a request took, with the path segments its pattern captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'r, Op> {
    pub op: Op,
    pub params: Vec<&'r str>,
}

impl<'r, Op> Matched<'r, Op> {
    /// The `i`th captured segment (the table's patterns fix how many there are).
    pub fn param(&self, i: usize) -> &'r str {
        self.params.get(i).copied().unwrap_or_default()
    }
}

/// The first route whose method and pattern match; otherwise 405 when some route has the path
/// under another method, else 404. A trailing or doubled `/` does not matter.
pub fn resolve<'r, Op: Copy>(req: &'r Request, routes: &[Route<Op>]) -> Result<Matched<'r, Op>, ApiError> {
    let segments = crate::request::segments(req);
    let method = req.method().as_str();
    let mut path_known = false;
    for route in routes {
        if let Some(params) = captures(route.path, &segments) {
            if route.method == method {
                return Ok(Matched { op: route.op, params });
            }
            path_known = true;
        }
    }
    let path = req.uri().path();
    Err(if path_known {
        ApiError::method_not_allowed(method, path)
    } else {
        ApiError::route_not_found(method, path)
    })
}

fn captures<'r>(pattern: &str, segments: &[&'r str]) -> Option<Vec<&'r str>> {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        match *part {
            "{}" => params.push(*segment),
            literal if literal == *segment => {}
            _ => return None,
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Op {
        List,
        One,
        Make,
    }

    const ROUTES: &[Route<Op>] =
        &[get("/v1/things", Op::List), get("/v1/things/{}", Op::One), post("/v1/things", Op::Make)];

    fn request(method: &str, path: &str) -> Request {
        let mut req = Request::default();
        *req.method_mut() = method.parse().unwrap();
        *req.uri_mut() = path.parse().unwrap();
        req
    }

    #[test]
    fn the_first_route_of_the_method_and_path_answers() {
        let req = request("GET", "/v1/things/42/");
        let m = resolve(&req, ROUTES).unwrap();
        assert_eq!((m.op, m.param(0)), (Op::One, "42"));
        let req = request("POST", "//v1/things");
        assert_eq!(resolve(&req, ROUTES).unwrap().op, Op::Make);
        assert_eq!(resolve(&request("GET", "/v1/things"), ROUTES).unwrap().params, Vec::<&str>::new());
    }

    #[test]
    fn a_known_path_under_another_method_is_405_else_404() {
        let status = |m, p| resolve(&request(m, p), ROUTES).unwrap_err().status.as_u16();
        assert_eq!(status("DELETE", "/v1/things/42"), 405);
        assert_eq!(status("PUT", "/v1/things"), 405);
        assert_eq!(status("GET", "/v1/things/42/more"), 404);
        assert_eq!(status("GET", "/v1/other"), 404);
        assert_eq!(status("GET", "/"), 404);
    }
}
