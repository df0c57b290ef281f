"""test_bad_input.py: hostile and broken HTTP against `ftune serve`, over raw sockets and
http.client (no SDK, so that the bytes are exactly the ones meant): malformed JSON, wrong JSON
types, oversized bodies and headers, a truncated multipart upload, slow clients holding
connections open, unknown paths and methods. Every error must be an OpenAI-shaped error
({"error": {"message","type","param","code"}}) with x-request-id, the server must keep answering,
and 2000 bad requests must not grow its memory (RSS) by 20 MB or more.
Plain script: `python3 tests/e2e/test_bad_input.py`.
"""
import http.client
import json
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import stop_and_clean, Server, check, check_error_shape, describe, run_tests  # noqa: E402

AUTH = {"Authorization": "Bearer unused"}
JSON_H = {"Authorization": "Bearer unused", "Content-Type": "application/json"}
BASE = "tiny-qwen2"


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-bad-")
    c.server = Server(os.path.join(c.tmp, "data")).start()
    return c


def teardown(c):
    stop_and_clean(c)


def req(c, method, path, body=None, headers=None):
    return c.server.request(method, path, body, headers if headers is not None else JSON_H)


def expect_error(c, method, path, body, statuses, what, headers=None):
    status, h, data = req(c, method, path, body, headers)
    check(status in statuses,
          "%s: %s %s -> %s, expected %s" % (what, method, path, describe(status, h, data), statuses))
    return check_error_shape(status, h, data, what)


def server_answers(c, what):
    check(c.server.alive(), "the server died (%s)" % what)
    status, h, data = req(c, "GET", "/v1/models", headers=AUTH)
    check(status == 200, "GET /v1/models after %s: %s" % (what, describe(status, h, data)))


def test_malformed_json(c):
    for path in ("/v1/fine_tuning/jobs", "/v1/chat/completions"):
        for body in (b"{", b"{\"model\": ", b"not json", b"{\"model\": \"x\",}", b"\xff\xfe{}", b"[1,2",
                     b"{\"model\": \"tiny-qwen2\", \"messages\": [}", b""):
            expect_error(c, "POST", path, body, (400,), "malformed JSON %r" % body[:20])
        expect_error(c, "POST", path, b"[]", (400,), "JSON array instead of object")
        expect_error(c, "POST", path, b"\"str\"", (400,), "JSON string instead of object")
    server_answers(c, "malformed JSON")


def test_wrong_json_types(c):
    cases = [
        ("/v1/chat/completions", {"model": BASE, "messages": "hello"}, "messages a string"),
        ("/v1/chat/completions", {"model": BASE, "messages": [{"role": "user", "content": "hi"}], "max_tokens": "x"},
         "max_tokens a string"),
        ("/v1/chat/completions", {"model": BASE, "messages": [{"role": "user", "content": "hi"}], "max_tokens": -1},
         "max_tokens -1"),
        ("/v1/chat/completions", {"model": 5, "messages": [{"role": "user", "content": "hi"}]}, "model a number"),
        ("/v1/chat/completions", {"model": BASE, "messages": [{"role": "user", "content": 5}]}, "content a number"),
        ("/v1/chat/completions", {"model": BASE, "messages": [{"content": "hi"}]}, "message without role"),
        ("/v1/chat/completions", {"model": BASE, "messages": [5]}, "message a number"),
        ("/v1/chat/completions", {"model": BASE, "messages": [{"role": "user", "content": "hi"}], "n": 0}, "n 0"),
        ("/v1/chat/completions", {"model": BASE, "messages": [{"role": "user", "content": "hi"}], "top_p": 2},
         "top_p 2"),
        ("/v1/chat/completions", {"model": BASE, "messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
         "stream a string"),
        ("/v1/fine_tuning/jobs", {"model": BASE, "training_file": "file-x", "metadata": ["a", "b"]},
         "metadata a list"),
        ("/v1/fine_tuning/jobs", {"model": BASE, "training_file": "file-x", "metadata": {"k": 5}},
         "metadata value a number"),
        ("/v1/fine_tuning/jobs", {"model": BASE, "training_file": 12}, "training_file a number"),
        ("/v1/fine_tuning/jobs", {"model": BASE}, "training_file missing"),
        ("/v1/fine_tuning/jobs", {"training_file": "file-x"}, "model missing"),
        ("/v1/fine_tuning/jobs", {"model": BASE, "training_file": "file-x", "seed": "x"}, "seed a string"),
        ("/v1/fine_tuning/jobs", {"model": BASE, "training_file": "file-x", "method": "supervised"},
         "method a string"),
    ]
    for path, body, what in cases:
        expect_error(c, "POST", path, body, (400,), what)
    expect_error(c, "GET", "/v1/files?limit=x", None, (400,), "files list limit=x", headers=AUTH)
    expect_error(c, "GET", "/v1/fine_tuning/jobs?limit=-3", None, (400,), "jobs list limit=-3", headers=AUTH)
    server_answers(c, "wrong JSON types")


def test_huge_body(c):
    big = (b"{\"model\": \"tiny-qwen2\", \"messages\": [{\"role\": \"user\", \"content\": \""
           + b"a" * (9 << 20) + b"\"}]}")
    conn = http.client.HTTPConnection("127.0.0.1", c.server.port, timeout=30)
    try:
        conn.putrequest("POST", "/v1/chat/completions")
        for k, v in JSON_H.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(big)))
        conn.endheaders()
        try:
            conn.send(big)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading it all
        r = conn.getresponse()
        data = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
        check(r.status == 413, "9 MiB JSON body: %s, expected 413" % describe(r.status, headers, data))
        check_error_shape(r.status, headers, data, "9 MiB body")
    finally:
        conn.close()
    # a declared length over the limit is refused from the header alone
    s = socket.create_connection(("127.0.0.1", c.server.port), timeout=10)
    try:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer unused\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{")
        resp = recv_response(s)
        check(resp.startswith(b"HTTP/1.1 413") or resp.startswith(b"HTTP/1.0 413"),
              "Content-Length 1e9: %r, expected 413" % resp[:200])
    finally:
        s.close()
    server_answers(c, "huge bodies")


def recv_response(s, timeout=10.0):
    """Reads from s until the headers and the Content-Length body arrived, or EOF/timeout."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(body) >= int(line.split(b":")[1]):
                            return data
    except socket.timeout:
        pass
    except ConnectionResetError:
        pass
    return data


def test_truncated_multipart(c):
    boundary = "----ftuneboundary7MA4YWxkTrZu0gW"
    line = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    full = ("--%s\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.jsonl\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n%s\n%s\n\r\n--%s--\r\n"
            % (boundary, boundary, line, line, boundary)).encode()
    headers = {"Authorization": "Bearer unused", "Content-Type": "multipart/form-data; boundary=" + boundary}
    status, h, data = c.server.request("POST", "/v1/files", full, headers)
    check(status == 200, "the complete multipart upload (control) failed: %s" % describe(status, h, data))
    cut = full[:full.rindex(b"\r\n--" + boundary.encode() + b"--")]  # before the closing boundary
    for body, what in ((cut, "cut before the closing boundary"), (full[:len(full) // 2], "cut in the middle"),
                       (full[:60], "cut inside the first part's headers")):
        status, h, data = c.server.request("POST", "/v1/files", body, headers)
        check(status == 400, "truncated multipart (%s): %s, expected 400" % (what, describe(status, h, data)))
        check_error_shape(status, h, data, "truncated multipart")
    status, h, data = c.server.request("POST", "/v1/files", full.replace(b"name=\"file\"", b"name=\"data\""), headers)
    check(status == 400, "multipart without a file part: %s, expected 400" % describe(status, h, data))
    status, h, data = c.server.request("POST", "/v1/files", full,
                                       {"Authorization": "Bearer unused", "Content-Type": "multipart/form-data"})
    check(status == 400, "multipart without a boundary: %s, expected 400" % describe(status, h, data))
    check_error_shape(status, h, data, "multipart without a boundary")
    # nothing half-written is listed
    status, h, data = c.server.request("GET", "/v1/files", headers=AUTH)
    files = json.loads(data)["data"]
    check(len(files) == 1, "%d files listed after one good and several truncated uploads" % len(files))
    server_answers(c, "truncated multipart")


HUGE_HEADER_KIB = 64  # the brief: a 64 KiB header is refused (the server allows HTTP_CONNECTION_MEMORY)


def send_raw(c, data, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", c.server.port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return recv_response(s, timeout)
    finally:
        s.close()


def test_huge_header(c):
    for kib in (HUGE_HEADER_KIB, 1024):
        resp = send_raw(c, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer unused\r\nX-Big: "
                        + b"b" * (kib << 10) + b"\r\n\r\n")
        status = int(resp.split(b" ")[1]) if resp.startswith(b"HTTP/1.") else None
        check(status == 431, "a %d KiB header: %r, expected status 431" % (kib, resp[:200]))
        head, _, body = resp.partition(b"\r\n\r\n")
        if not body.startswith(b"{"):  # past HTTP_CONNECTION_MEMORY: libmicrohttpd's own body (http.h)
            print("     note: the %d KiB header's %d answer is not an OpenAI-shaped error: %r"
                  % (kib, status, body[:80]))
        server_answers(c, "a %d KiB header" % kib)
    # a 1 MiB request line: libmicrohttpd's own 414 (http.h says why), but a 414 and a server that goes on
    resp = send_raw(c, b"GET /v1/models?a=" + b"y" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    check(resp.startswith(b"HTTP/1.1 414"), "a 1 MiB request line: %r, expected status 414" % resp[:200])
    server_answers(c, "a 1 MiB request line")


def test_long_url_and_headers_json(c):
    """A 70 kB path is a 414 and 40 KiB of headers a 431, each an OpenAI-shaped JSON error from the
    server's own handler (they were libmicrohttpd's HTML pages)."""
    for path, headers, want, what in (
            ("/v1/files/" + "x" * 70000, AUTH, 414, "a 70 kB path"),
            ("/v1/models?after=" + "y" * 20000, AUTH, 414, "a 20 kB query"),
            ("/v1/models", dict(AUTH, **{"X-Big": "b" * (40 << 10)}), 431, "a 40 KiB header")):
        status, h, data = req(c, "GET", path, headers=headers)
        check(status == want, "%s: %s, expected %d" % (what, describe(status, h, data), want))
        e = check_error_shape(status, h, data, what)
        check(e["code"] in ("url_too_long", "headers_too_large"), "%s: code %r" % (what, e["code"]))
    status, h, data = req(c, "POST", "/v1/chat/completions", body=b"{}",
                          headers=dict(JSON_H, **{"Content-Length": str(9 << 20)}))
    check(status == 413, "Content-Length of 9 MiB: %s" % describe(status, h, data))
    check_error_shape(status, h, data, "Content-Length of 9 MiB")
    server_answers(c, "long URLs and headers")


def test_huge_chunked_body(c):
    """A chunked (no Content-Length) JSON body over the 8 MiB limit: an HTTP 413, not a silent close."""
    import threading
    s = socket.create_connection(("127.0.0.1", c.server.port), timeout=30)
    got = []

    def reader():
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got.append(d)
        except OSError:
            pass
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer unused\r\n"
                  b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"a" * 65536
        for _ in range(9 * 16):
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    t.join(15)
    s.close()
    resp = b"".join(got)
    check(resp.startswith(b"HTTP/1.1 413"), "a 9 MiB chunked JSON body: %r, expected an HTTP 413 answer" % resp[:200])
    server_answers(c, "a 9 MiB chunked body")


def test_odd_urls(c):
    for path in ("/v1/files/%00", "/v1/files/file-x%00y", "/v1/fine_tuning/jobs/%00/events"):
        expect_error(c, "GET", path, None, (400, 404), "GET %s" % path, headers=AUTH)
    server_answers(c, "odd URLs")


def test_slow_clients(c):
    socks = []
    try:
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", c.server.port), timeout=10)
            s.sendall(b"GET /v1/mod")
            socks.append(s)
        t0 = time.time()
        for i in range(20):
            status, h, data = c.server.request("GET", "/v1/models", headers=AUTH, timeout=10)
            check(status == 200,
                  "GET /v1/models #%d with 50 slow clients connected: %s" % (i, describe(status, h, data)))
        dt = time.time() - t0
        check(dt < 10, "20 GET /v1/models took %.1f s with 50 slow clients connected" % dt)
        print("     20 requests in %.2f s beside 50 stalled connections" % dt)
    finally:
        for s in socks:
            s.close()
    server_answers(c, "slow clients")


def test_unknown_path_and_method(c):
    for path in ("/v1/nope", "/nope", "/v1/files/file-x/nope", "/v1/fine_tuning/jobs/ftjob-x/nope"):
        expect_error(c, "GET", path, None, (404,), "unknown path %s" % path, headers=AUTH)
    for method, path in (("PUT", "/v1/models"), ("DELETE", "/v1/chat/completions"), ("PATCH", "/v1/files"),
                         ("GET", "/v1/chat/completions"), ("POST", "/v1/models")):
        expect_error(c, method, path, None, (404, 405), "%s %s" % (method, path), headers=AUTH)
    for method, path, allow in (("PUT", "/v1/models", "GET"), ("GET", "/v1/chat/completions", "POST"),
                                ("PATCH", "/v1/files/file-x", "GET, DELETE"), ("GET", "/v1/fine_tuning/jobs/x/cancel",
                                                                               "POST")):
        status, h, data = req(c, method, path, headers=AUTH)
        check(status == 405 and h.get("allow") == allow,
              "%s %s: %d with Allow %r, expected 405 with Allow %r" % (method, path, status, h.get("allow"), allow))
    s = socket.create_connection(("127.0.0.1", c.server.port), timeout=10)
    try:
        s.sendall(b"BREW /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = recv_response(s)
    finally:
        s.close()
    check(resp.startswith(b"HTTP/1."), "unknown method BREW: no HTTP response: %r" % resp[:100])
    s = socket.create_connection(("127.0.0.1", c.server.port), timeout=10)
    try:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage that is not HTTP\r\n\r\n")
        recv_response(s, timeout=5)
    finally:
        s.close()
    server_answers(c, "unknown paths and methods")


BAD_REQUESTS = [
    ("POST", "/v1/chat/completions", b"{\"model\":"),
    ("POST", "/v1/chat/completions", b"{\"model\": \"tiny-qwen2\", \"messages\": \"x\"}"),
    ("POST", "/v1/fine_tuning/jobs", b"{\"model\": \"tiny-qwen2\", \"training_file\": \"file-nope\"}"),
    ("POST", "/v1/fine_tuning/jobs", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["),
    ("GET", "/v1/files/file-nope", None),
    ("GET", "/v1/fine_tuning/jobs/ftjob-nope/events?limit=zz", None),
    ("GET", "/v1/nope/" + "x" * 2000, None),
    ("POST", "/v1/chat/completions",
     b"{\"model\": \"no-such\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"),
]


def test_no_leak(c):
    conn = None
    rss_500 = None
    t0 = time.time()
    for i in range(2000):
        method, path, body = BAD_REQUESTS[i % len(BAD_REQUESTS)]
        for attempt in range(2):
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", c.server.port, timeout=10)
            try:
                conn.request(method, path, body=body, headers=JSON_H)
                r = conn.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                conn = None
                if attempt:
                    raise
        check(400 <= r.status < 500,
              "bad request #%d %s %s -> HTTP %d %r" % (i, method, path[:40], r.status, data[:200]))
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
        if i == 499:
            rss_500 = c.server.rss_kb()
    if conn:
        conn.close()
    rss_2000 = c.server.rss_kb()
    growth_mb = (rss_2000 - rss_500) / 1024.0
    print("     2000 bad requests in %.1f s; RSS %.1f MB at 500, %.1f MB at 2000"
          % (time.time() - t0, rss_500 / 1024.0, rss_2000 / 1024.0))
    if os.environ.get("ASAN_OPTIONS") is not None:
        print("     note: RSS not checked under AddressSanitizer (its quarantine holds freed memory; LSan "
              "reports leaks at exit)")
    else:
        check(growth_mb < 20, "RSS grew by %.1f MB between request 500 and 2000 (leak?)" % growth_mb)
    server_answers(c, "2000 bad requests")
    check(c.server.alive(), "the server is not alive at the end")


TESTS = [test_malformed_json, test_wrong_json_types, test_huge_body, test_truncated_multipart, test_slow_clients,
         test_unknown_path_and_method, test_no_leak, test_huge_header, test_long_url_and_headers_json,
         test_huge_chunked_body, test_odd_urls]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
