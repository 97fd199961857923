"""scripts/api_fuzz.py's schemathesis hooks module and the loopback site its links point at.

schemathesis loads this file by path (`hooks` in the run's schemathesis.toml) in its own process;
api_fuzz.py imports it for `serve_site` and `SITE_ENV`. Standard library only, so it loads on
either interpreter.
"""
import os
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The scrap function fetches `url` query values, post-write previews the `url` of a post. The
# test stack lets them fetch loopback, and they fetch any public address: generated or example
# values (`https://example.com/...`) would send traffic off this machine. So every value the
# stack could take for an http(s) link is replaced, just before the request goes out, by a page
# of a site this script serves on loopback; values that cannot be one (the 400 cases) go as
# generated. The site's pages vary (full preview, bare page, image, 404, redirect), so the 200
# and 502 answers are fuzzed too.
FETCHED_QUERY = ("url",)
FETCHED_BODY = ("url",)
SITE_ENV = "API_FUZZ_SITE"


def contain(value, site):
    if isinstance(value, list):
        return [contain(v, site) for v in value]
    if not isinstance(value, str):
        return value
    # URL parsers drop tabs and newlines anywhere and ignore case in the scheme.
    if "http" not in value.translate({9: None, 10: None, 13: None}).lower():
        return value
    return f"{site}/p/{zlib.crc32(value.encode('utf-8', 'surrogatepass')) % 40}"


def before_call(context, case, kwargs):
    """schemathesis hook: every link the stack could fetch, pointed at the loopback site."""
    site = os.environ.get(SITE_ENV)
    if not site:
        raise RuntimeError(f"{SITE_ENV} is not set: refusing to send links the stack would fetch")
    if isinstance(case.query, dict):
        for name in FETCHED_QUERY:
            if name in case.query:
                case.query[name] = contain(case.query[name], site)
    if isinstance(case.body, dict):
        for name in FETCHED_BODY:
            if name in case.body:
                case.body[name] = contain(case.body[name], site)


if __name__ != "__main__" and "schemathesis" in sys.modules:
    import schemathesis

    schemathesis.hook(before_call)


class Page(BaseHTTPRequestHandler):
    PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                        "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082")

    def log_message(self, *args):
        pass

    def do_GET(self):
        n = int(self.path.rsplit("/", 1)[-1]) if self.path.rsplit("/", 1)[-1].isdigit() else 0
        kind = n % 5
        if kind == 0:
            return self.answer(404, "text/html", b"<html><title>gone</title></html>")
        if kind == 1:
            return self.answer(200, "image/png", self.PNG)
        if kind == 2:
            self.send_response(302)
            self.send_header("Location", f"/p/{n + 1}")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if kind == 3:
            return self.answer(200, "text/html; charset=utf-8", b"<html><body>no metadata</body></html>")
        page = (f'<html lang="en"><head><title>Page {n}</title>'
                f'<meta property="og:title" content="Fuzz page {n}">'
                f'<meta property="og:description" content="A page the fuzzer links to">'
                f'<meta property="og:type" content="article"><meta property="og:site_name" content="api_fuzz">'
                f'<meta property="og:image" content="/img/{n}.png"><meta property="og:image:width" content="640">'
                f'<meta property="og:image:height" content="480"><meta name="author" content="fuzz">'
                f'<meta property="article:published_time" content="2026-11-24T07:43:48Z">'
                f'<link rel="canonical" href="/p/{n}"></head><body>page</body></html>')
        return self.answer(200, "text/html; charset=utf-8", page.encode())

    def answer(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
