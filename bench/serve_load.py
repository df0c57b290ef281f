#!/usr/bin/env python3
"""serve_load.py: load benchmark of a running `ftune serve`. N concurrent clients (threads, each
with its own keep-alive http.client connection) send requests for a fixed duration or count in
two scenarios: (a) GET /v1/models, (b) short chat completions (max_tokens 8, greedy) on a base
model. Prints requests/s, p50/p99 latency, errors and the server's RSS (VmRSS, when --pid is
given) before and after, then one Markdown table row per scenario (for bench/RESULTS.md).

Usage: python3 bench/serve_load.py --port P [--pid PID] [--clients 32] [--duration 20] [--requests N]
         [--model SmolLM2-135M-Instruct.Q4_1] [--scenario models|chat|both] [--api-key KEY]
It measures; it asserts nothing (bench/, not tests/).
"""
import argparse
import http.client
import json
import os
import platform
import statistics
import threading
import time


def rss_mb(pid):
    if not pid:
        return None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def run_scenario(args, name, method, path, body):
    headers = {"Authorization": "Bearer " + args.api_key}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    lock = threading.Lock()
    latencies, errors, samples = [], [0], []
    counter = [0]
    stop_at = time.time() + args.duration if not args.requests else None

    def take():
        with lock:
            if args.requests:
                if counter[0] >= args.requests:
                    return False
                counter[0] += 1
                return True
        return time.time() < stop_at

    def worker():
        conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
        local, errs = [], 0
        while take():
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=payload, headers=headers)
                r = conn.getresponse()
                data = r.read()
                ok = r.status == 200
                if not ok and len(samples) < 3:
                    samples.append("HTTP %d %r" % (r.status, data[:200]))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
            except (OSError, http.client.HTTPException) as e:
                ok = False
                if len(samples) < 3:
                    samples.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
            dt = time.perf_counter() - t0
            if ok:
                local.append(dt)
            else:
                errs += 1
        conn.close()
        with lock:
            latencies.extend(local)
            errors[0] += errs

    rss_before = rss_mb(args.pid)
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    rss_after = rss_mb(args.pid)
    latencies.sort()
    n = len(latencies)
    res = {
        "scenario": name, "clients": args.clients, "requests": n + errors[0], "ok": n, "errors": errors[0],
        "seconds": wall, "rps": n / wall if wall > 0 else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": (statistics.mean(latencies) * 1000) if latencies else float("nan"),
        "rss_before": rss_before, "rss_after": rss_after,
    }
    fmt_rss = lambda v: "%.1f MB" % v if v is not None else "n/a"  # noqa: E731
    print("%-30s %6d ok %4d errors in %5.1f s: %8.1f req/s, p50 %7.1f ms, p99 %7.1f ms; RSS %s -> %s"
          % (name, n, errors[0], wall, res["rps"], res["p50_ms"], res["p99_ms"], fmt_rss(rss_before),
             fmt_rss(rss_after)))
    for s in samples:
        print("    error sample: %s" % s)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, default=0, help="server pid, for VmRSS")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per scenario (unless --requests)")
    ap.add_argument("--requests", type=int, default=0, help="requests per scenario instead of a duration")
    ap.add_argument("--model", default="SmolLM2-135M-Instruct.Q4_1")
    ap.add_argument("--scenario", choices=("models", "chat", "both"), default="both")
    ap.add_argument("--api-key", default="unused")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--markdown", default="", help="append the Markdown rows to this file")
    args = ap.parse_args()

    results = []
    if args.scenario in ("models", "both"):
        results.append(run_scenario(args, "GET /v1/models", "GET", "/v1/models", None))
    if args.scenario in ("chat", "both"):
        body = {"model": args.model, "max_tokens": 8, "temperature": 0,
                "messages": [{"role": "user", "content": "What is the capital of France?"}]}
        results.append(run_scenario(args, "chat %s (8 tokens)" % args.model, "POST", "/v1/chat/completions", body))

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rows = ["| scenario | clients | requests | errors | req/s | p50 ms | p99 ms | RSS before → after (MB) | machine |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        rss = ("%.1f → %.1f" % (r["rss_before"], r["rss_after"])) if r["rss_before"] is not None else "n/a"
        rows.append("| %s | %d | %d | %d | %.1f | %.1f | %.1f | %s | %s, %d cores |"
                    % (r["scenario"], r["clients"], r["requests"], r["errors"], r["rps"], r["p50_ms"], r["p99_ms"], rss,
                       cpu, os.cpu_count() or 0))
    print()
    print("\n".join(rows))
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
