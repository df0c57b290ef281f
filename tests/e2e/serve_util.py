"""serve_util.py: starts and stops the real `ftune serve` binary for the end-to-end tests.

Server(data_dir, api_key=None).start() picks a free port, runs
`./build/ftune serve --port P --data DIR --models models [--api-key KEY]` with its stderr (and
stdout) in DIR/../serve-<n>.log, and waits until GET /health answers 200 (30 s, then it fails
printing the log). stop() sends SIGTERM (then SIGKILL after 10 s); kill_9() is the crash used by
the restart test. client() gives an official openai.OpenAI client pointed at it (no retries, so
that every error reaches the test). Also: tiny test helpers (check, run_tests, raw HTTP, RSS,
dataset writers). Deliberately no pytest: each test file is a plain script.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BINARY = os.environ.get("FTUNE_BIN") or os.path.join(ROOT, "build", "ftune")  # e.g. a sanitizer build
MODELS = os.path.join(ROOT, "models")
START_TIMEOUT_S = 30.0


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    """Fails the current test with msg when cond is false."""
    if not cond:
        raise TestFailure(msg)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    _count = 0

    def __init__(self, data_dir, api_key=None, models_dir=MODELS, extra_args=(), cwd=ROOT):
        self.data_dir = data_dir
        self.cwd = cwd  # the server's working directory (data_dir may be relative to it)
        self.api_key = api_key
        self.models_dir = models_dir
        self.extra_args = list(extra_args)
        self.port = None
        self.proc = None
        Server._count += 1
        self.log_path = os.path.join(os.path.dirname(os.path.abspath(os.path.join(cwd, data_dir))),
                                     "serve-%s-%d.log" % (os.path.basename(data_dir), Server._count))
        self._log = None

    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid

    def start(self, port=None):
        """Starts the server (on port, or a free one) and waits for /health."""
        self.port = port or self.port or free_port()
        cmd = [BINARY, "serve", "--port", str(self.port), "--data", self.data_dir, "--models", self.models_dir]
        if self.api_key:
            cmd += ["--api-key", self.api_key]
        cmd += self.extra_args
        self._log = open(self.log_path, "ab")
        self._log.write(("\n==== %s\n" % " ".join(cmd)).encode())
        self._log.flush()
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        deadline = time.time() + START_TIMEOUT_S
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("ftune serve exited with status %s during start-up\n%s"
                                  % (self.proc.returncode, self.log_tail()))
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health")
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status == 200:
                    return self
                last = "status %d" % r.status
            except OSError as e:
                last = repr(e)
            time.sleep(0.1)
        self.kill_9()
        raise TestFailure("ftune serve did not answer GET /health with 200 within %.0f s (last: %s)\n%s"
                          % (START_TIMEOUT_S, last, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL if it has not exited after timeout seconds. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()
        return self.proc.returncode

    def kill_9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return "---- server log (%s), last %d bytes ----\n%s" % (
                self.log_path, n, data[-n:].decode("utf-8", "replace"))
        except OSError:
            return "(no server log)"

    def client(self, api_key=None, **kw):
        import openai
        key = api_key if api_key is not None else (self.api_key or "unused")
        return openai.OpenAI(base_url=self.base_url + "/v1", api_key=key, max_retries=0,
                             timeout=kw.pop("timeout", 60.0),
                             **kw)

    def rss_kb(self):
        """The server's resident set size (VmRSS) in kB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise TestFailure("no VmRSS for pid %d" % self.proc.pid)

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        """One raw HTTP request on a fresh connection: (status, headers dict lower-cased, body bytes)."""
        return http_request(self.port, method, path, body, headers, timeout)


def http_request(port, method, path, body=None, headers=None, timeout=30.0, conn=None):
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        if own:
            conn.close()


def describe(status, headers, body):
    return "HTTP %d %s" % (status, body[:600].decode("utf-8", "replace"))


def check_error_shape(status, headers, body, what):
    """Checks an OpenAI-shaped error body: {"error": {"message","type","param","code"}}; returns it."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise TestFailure("%s: error body is not JSON: %s" % (what, describe(status, headers, body)))
    check(isinstance(doc, dict) and isinstance(doc.get("error"), dict),
          "%s: no error object: %s" % (what, describe(status, headers, body)))
    e = doc["error"]
    for k in ("message", "type", "param", "code"):
        check(k in e, "%s: error object lacks %r: %s" % (what, k, describe(status, headers, body)))
    check(isinstance(e["message"], str) and e["message"], "%s: empty error message" % what)
    check(isinstance(e["type"], str) and e["type"], "%s: empty error type" % what)
    check("x-request-id" in headers, "%s: no x-request-id header (headers %s)" % (what, headers))
    return e


# ---- datasets ----

def chat_example(i, long=False):
    if long:
        return {"messages": [
            {"role": "system", "content": "You are a careful warehouse assistant. You answer questions about "
                                          "the colour, size and shelf of numbered items in a short sentence."},
            {"role": "user", "content": "Please tell me, what colour and size is item number %d on shelf %d?"
                                        % (i, i % 7)},
            {"role": "assistant", "content": "Item number %d on shelf %d is a blue box of size %d, stored near "
                                             "the north wall." % (i, i % 7, i % 5 + 1)}]}
    return {"messages": [
        {"role": "system", "content": "You answer questions about item colours."},
        {"role": "user", "content": "What colour is item %d?" % i},
        {"role": "assistant", "content": "Item %d is blue." % i}]}


def write_jsonl(path, examples):
    with open(path, "w") as f:
        for ex in examples:
            f.write(json.dumps(ex) + "\n")
    return path


def run_validate(path):
    r = subprocess.run([BINARY, "validate", path], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode, r.stdout.decode("utf-8", "replace")


TERMINAL = ("succeeded", "failed", "cancelled")


def wait_job(client, job_id, timeout=300.0, interval=0.5, statuses=None):
    """Polls jobs.retrieve until a terminal status; returns (job, list of distinct statuses seen)."""
    seen = []
    deadline = time.time() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if not seen or seen[-1] != job.status:
            seen.append(job.status)
        if job.status in TERMINAL:
            return job, seen
        if time.time() > deadline:
            raise TestFailure("job %s still %r after %.0f s (statuses seen %s)" % (job_id, job.status, timeout, seen))
        time.sleep(interval)


# ---- PostgreSQL (tests/pg_cluster.sh) ----

PG_CLUSTER = os.path.join(ROOT, "tests", "pg_cluster.sh")


def pg_available():
    """Whether the PostgreSQL server binaries are installed (scripts/setup.sh installs them)."""
    out = subprocess.run(["bash", PG_CLUSTER, "bindir"], stdout=subprocess.PIPE, timeout=30)
    return bool(out.stdout.strip())


def pg_start():
    """A throwaway cluster: returns (its URI, its directory for pg_stop)."""
    out = subprocess.run(["bash", PG_CLUSTER, "start"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    lines = out.stdout.decode("utf-8", "replace").splitlines()
    check(out.returncode == 0 and len(lines) >= 2, "cannot start PostgreSQL: %s" % "\n".join(lines))
    return lines[-2], lines[-1]


def pg_stop(pg_dir):
    subprocess.run(["bash", PG_CLUSTER, "stop", pg_dir], timeout=60)


# ---- runner ----

def run_tests(tests, setup=None, teardown=None):
    """Runs each test function in order (only those named on the command line, when any are);
    stops at the first failure, printing it and the server log's tail; exits 0 or 1."""
    started = time.time()
    if len(sys.argv) > 1:
        unknown = set(sys.argv[1:]) - {fn.__name__ for fn in tests}
        if unknown:
            print("unknown tests: %s" % ", ".join(sorted(unknown)))
            sys.exit(2)
        tests = [fn for fn in tests if fn.__name__ in sys.argv[1:]]
    ctx = setup() if setup else None
    ok = True
    try:
        for fn in tests:
            name = fn.__name__
            t0 = time.time()
            try:
                fn(ctx) if setup else fn()
            except Exception as e:  # noqa: BLE001 (report anything, then stop)
                ok = False
                if not isinstance(e, TestFailure):
                    traceback.print_exc()
                srv = getattr(ctx, "server", None) if ctx is not None else None
                if srv is not None:
                    print(srv.log_tail(2500))
                print("FAIL %s: %s" % (name, e))  # last, where a tail of the output shows it
                break
            print("ok   %s (%.1f s)" % (name, time.time() - t0))
            sys.stdout.flush()
    finally:
        if teardown:
            teardown(ctx)
    print("%s: %s in %.1f s" % (os.path.basename(sys.argv[0]), "passed" if ok else "FAILED", time.time() - started))
    sys.exit(0 if ok else 1)


def stop_and_clean(c):
    """The common teardown: stops the test's server and removes its temporary directory (kept
    with FTUNE_E2E_KEEP=1). Returns the server's exit status."""
    if c is None:
        return None
    rc = c.server.stop()
    if os.environ.get("FTUNE_E2E_KEEP"):
        print("kept", c.tmp)
    else:
        shutil.rmtree(c.tmp, ignore_errors=True)
    return rc
