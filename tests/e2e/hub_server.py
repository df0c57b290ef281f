"""hub_server.py: a local HTTP server laid out the way the Hugging Face Hub is, for `ftune pull`'s
tests (the test machines reach no Hub). It answers what `ftune pull` and the huggingface_hub
library ask:

  GET /api/models/{repo}/revision/{rev}           {"id", "sha": commit, "siblings": [...]}
  GET /api/models/{repo}/tree/{rev}?recursive=true [{"type", "path", "size", "oid", "lfs"}...],
                                                   PAGE_SIZE entries a page, Link: <...>; rel="next"
  GET /{repo}/resolve/{rev}/{path}                a file kept in Git: 200 with its bytes; an LFS file
                                                   (weights, GGUF): 302 to /cdn/{sha256} on the host
                                                   name "localhost" (another host than 127.0.0.1,
                                                   as the Hub's CDN is), which honours Range

with the Hub's errors: 401 + X-Error-Code RepositoryNotFound for an unknown repository, 404
RevisionNotFound, 404 EntryNotFound. Git blob ids and SHA-256 digests are computed as Git and LFS
do. Faults for the tests: drop the connection after N bytes of a file (once, or every time until
healed), serve bytes other than those published (corrupt), answer 404 for a listed file (gone),
ignore Range. Every request is logged
(path, Range, Authorization) for the tests to inspect.
"""
import hashlib
import http.server
import json
import os
import threading
import urllib.parse

PAGE_SIZE = 2
LFS_SUFFIXES = (".safetensors", ".gguf", ".bin")


def git_blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, repo_id, files, commit=None, revisions=("main",)):
        self.id = repo_id
        self.files = dict(files)  # path -> bytes
        h = hashlib.sha1(repo_id.encode())
        for p in sorted(self.files):
            h.update(p.encode() + b"\0" + self.files[p])
        self.commit = commit or h.hexdigest()
        self.revisions = set(revisions) | {self.commit}

    def entry(self, path):
        data = self.files[path]
        e = {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(data)}
        if path.endswith(LFS_SUFFIXES):
            e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            e["oid"] = git_blob_id(b"version https://git-lfs.github.com/spec/v1\n")  # the pointer's id
        return e


class HubState:
    def __init__(self):
        self.repos = {}
        self.log = []  # (path, range header, authorization header)
        self.drop_after = {}  # path -> bytes sent before closing the connection
        self.drop_always = set()  # paths whose every transfer is cut (until healed)
        self.corrupt = set()  # paths served with other bytes than those published
        self.ignore_range = False
        self.gone = set()  # paths listed but answered 404 EntryNotFound when fetched
        self.lock = threading.Lock()

    def add(self, repo):
        self.repos[repo.id] = repo

    def by_sha(self, sha):
        for r in self.repos.values():
            for p, d in r.files.items():
                if hashlib.sha256(d).hexdigest() == sha:
                    return p, d
        return None, None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _error(self, status, code, message):
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _repo(self, repo_id):
        r = self.server.state.repos.get(repo_id)
        if r is None:
            self._error(401, "RepositoryNotFound", "Repository Not Found for url: %s." % self.path)
        return r

    def _send_file(self, path, data):
        st = self.server.state
        with st.lock:
            if path in st.corrupt:
                data = bytes(b ^ 0x5A for b in data[:16]) + data[16:]
            drop = st.drop_after.pop(path, None)
            if path in st.drop_always:
                drop = 4096
        start = 0
        rng = self.headers.get("Range")
        if rng and not st.ignore_range and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        body = data[start:]
        if drop is not None and drop < len(body):
            self.wfile.write(body[:drop])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the connection drops mid-file
            return
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's name)
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        with st.lock:
            st.log.append((url.path, self.headers.get("Range"), self.headers.get("Authorization")))
        if parts[:2] == ["api", "models"]:
            # repo ids are owner/name or a bare name; the word after them says what is asked
            for n in (2, 1):
                if len(parts) >= 3 + n and parts[2 + n] in ("revision", "tree"):
                    repo_id, kind, rest = "/".join(parts[2:2 + n]), parts[2 + n], parts[3 + n:]
                    break
            else:
                return self._error(404, "EntryNotFound", "no such API route")
            r = self._repo(repo_id)
            if r is None:
                return
            rev = "/".join(rest)
            if rev not in r.revisions:
                return self._error(404, "RevisionNotFound", "Invalid rev id: %s" % rev)
            entries = [r.entry(p) for p in sorted(r.files)]
            if kind == "revision":
                return self._json({"id": r.id, "sha": r.commit,
                                   "siblings": [{"rfilename": p} for p in sorted(r.files)]})
            q = urllib.parse.parse_qs(url.query)
            cursor = int(q.get("cursor", ["0"])[0])
            page = entries[cursor:cursor + PAGE_SIZE]
            extra = []
            if cursor + PAGE_SIZE < len(entries):
                nxt = "http://%s%s?recursive=true&cursor=%d" % (self.headers["Host"], url.path, cursor + PAGE_SIZE)
                extra.append(("Link", '<%s>; rel="next"' % nxt))
            return self._json(page, extra)
        if parts[:1] == ["cdn"] and len(parts) == 2:
            path, data = st.by_sha(parts[1])
            if data is None:
                return self._error(404, "EntryNotFound", "no such blob")
            return self._send_file(path, data)
        if "resolve" in parts:
            i = parts.index("resolve")
            r = self._repo("/".join(parts[:i]))
            if r is None:
                return
            rev, path = parts[i + 1], "/".join(parts[i + 2:])
            if rev not in r.revisions:
                return self._error(404, "RevisionNotFound", "Invalid rev id: %s" % rev)
            if path not in r.files or path in st.gone:
                return self._error(404, "EntryNotFound", "%s does not exist on %s" % (path, rev))
            if path.endswith(LFS_SUFFIXES):  # to the CDN, another host name
                sha = hashlib.sha256(r.files[path]).hexdigest()
                self.send_response(302)
                self.send_header("Location", "http://localhost:%d/cdn/%s" % (self.server.server_port, sha))
                self.send_header("X-Repo-Commit", r.commit)
                self.send_header("X-Linked-Etag", '"%s"' % sha)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self._send_file(path, r.files[path])
        self._error(404, "EntryNotFound", "not found")


class HubServer:
    """HubServer().start() serves on a free port of 127.0.0.1 in a thread; .endpoint is its URL."""

    def __init__(self):
        self.state = HubState()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = self.state
        self.endpoint = "http://127.0.0.1:%d" % self.httpd.server_port

    def start(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def read_tree(folder):
    """The files under folder as {relative path: bytes}."""
    out = {}
    for root, _, names in os.walk(folder):
        for n in names:
            full = os.path.join(root, n)
            out[os.path.relpath(full, folder)] = open(full, "rb").read()
    return out
