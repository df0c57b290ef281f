#!/usr/bin/env python3
"""serve_load.py: load benchmark of a running `ftune serve`, in the shape of a classifier's
traffic. N concurrent clients (threads, each with its own keep-alive http.client connection) send
requests for a fixed duration (or count) per point. Scenarios (--scenario, comma-separated):
  triage  short triage requests on the base model, for each --clients count: the data file's
          system message (the same in every request) + one ticket as the user message,
          max_tokens 4, greedy. Tickets are the data file's, then the user messages of
          --more-tickets files (default: BANKING77's 9,618 banking77-intents examples beside it),
          each request taking the next one in a counter shared by all clients, so that no ticket
          repeats until the pool is used up: a whole repeated prompt would come from the prefix
          cache, which real traffic rarely allows (with the 90 validation tickets alone, 32
          clients found most of their prompts cached, 1 client none of them);
  mixed   the same requests from --mixed-clients clients spread over the base model and the
          --adapters models (client i on model i mod (1 + adapters));
  decode  decode speed for each --decode-seqs count N: N clients, each a short prompt with
          max_tokens --decode-tokens, greedy; tokens/s = completion tokens / elapsed seconds
          (prefill of the short prompt included);
  models  GET /v1/models (the HTTP layer alone).
Prints a line per point (requests/s, p50/p99 latency, errors, the CPU cores the load generator kept
busy, and with --pid the server's VmRSS before and after and the cores it kept busy), then
Markdown tables for bench/RESULTS.md headed by the CPU model and date.
It measures; it asserts nothing (bench/, not tests/).

Usage: python3 bench/serve_load.py --port P [--pid PID] [--model SmolLM2-135M-Instruct.Q4_1]
         [--scenario triage,mixed,decode] [--clients 1,4,16,32,64] [--duration 15] [--requests N]
         [--adapters A,B,C] [--mixed-clients 32] [--decode-seqs 1,2,4,8,16,32] [--decode-tokens 64]
         [--decode-duration 8] [--triage-file ../shared/data/support-triage/validation.jsonl]
         [--more-tickets FILE,FILE]
         [--api-key KEY] [--markdown FILE]
"""
import argparse
import datetime
import http.client
import json
import os
import statistics
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TRIAGE_FILE = os.path.join(ROOT, "..", "shared", "data", "support-triage", "validation.jsonl")
MORE_TICKETS = ",".join(os.path.join(ROOT, "..", "shared", "data", "banking77-intents", f)
                        for f in ("train.jsonl", "validation.jsonl"))
DECODE_PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."
MAX_ERROR_SAMPLES = 3


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


def server_cpu_s(pid):
    """user + system CPU seconds of process pid so far (/proc/PID/stat), or None."""
    if not pid:
        return None
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def int_list(text):
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("%r: expected comma-separated integers such as 1,4,16" % text)
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError("%r: expected counts of at least 1" % text)
    return vals


def load_triage(path):
    """(system message, [tickets]) of a chat JSONL file whose examples are system + user + assistant."""
    system, tickets = None, []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            msgs = json.loads(line)["messages"]
            sys_msgs = [m["content"] for m in msgs if m["role"] == "system"]
            users = [m["content"] for m in msgs if m["role"] == "user"]
            if not sys_msgs or not users:
                raise SystemExit("serve_load: %s line %d: expected a system and a user message" % (path, n))
            if system is None:
                system = sys_msgs[0]
            elif sys_msgs[0] != system:
                raise SystemExit("serve_load: %s line %d: another system message than line 1's" % (path, n))
            tickets.append(users[0])
    if not tickets:
        raise SystemExit("serve_load: %s: no examples" % path)
    return system, tickets


def run_point(args, name, clients, make_request, duration):
    """clients threads each send make_request(client, k) -> (method, path, body dict or None) until
    duration seconds have passed (each at least once) or args.requests are sent. Returns the stats."""
    lock = threading.Lock()
    latencies, samples, tokens, errors, sent = [], [], [0], [0], [0]
    stop_at = time.time() + duration

    def take(k):
        with lock:
            if args.requests:
                if sent[0] >= args.requests:
                    return False
                sent[0] += 1
                return True
        return k == 0 or time.time() < stop_at

    def worker(client):
        conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
        local, errs, toks, k = [], 0, 0, 0
        while take(k):
            method, path, body = make_request(client, k)
            k += 1
            headers = {"Authorization": "Bearer " + args.api_key}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=payload, headers=headers)
                r = conn.getresponse()
                data = r.read()
                ok = r.status == 200
                if ok and body is not None:
                    toks += json.loads(data).get("usage", {}).get("completion_tokens", 0)
                elif not ok:
                    with lock:
                        if len(samples) < MAX_ERROR_SAMPLES:
                            samples.append("HTTP %d %r" % (r.status, data[:200]))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
            except (OSError, http.client.HTTPException, ValueError) as e:
                ok = False
                with lock:
                    if len(samples) < MAX_ERROR_SAMPLES:
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
            tokens[0] += toks

    rss_before = rss_mb(args.pid)
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    server_cpu_before, client_cpu_before = server_cpu_s(args.pid), os.times()
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    client_cpu_after, server_cpu_after = os.times(), server_cpu_s(args.pid)
    # the CPU the load generator itself took: on one machine it competes with the server
    client_cpu = (client_cpu_after.user - client_cpu_before.user) + (client_cpu_after.system - client_cpu_before.system)
    server_cpu = server_cpu_after - server_cpu_before if server_cpu_before is not None and server_cpu_after is not None else None
    rss_after = rss_mb(args.pid)
    latencies.sort()
    n = len(latencies)
    res = {"scenario": name, "clients": clients, "requests": n + errors[0], "ok": n, "errors": errors[0],
           "seconds": wall, "rps": n / wall if wall > 0 else 0.0, "tokens": tokens[0],
           "tokens_per_s": tokens[0] / wall if wall > 0 else 0.0,
           "tokens_per_req": tokens[0] / n if n else float("nan"),
           "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
           "mean_ms": statistics.mean(latencies) * 1000 if latencies else float("nan"),
           "rss_before": rss_before, "rss_after": rss_after,
           "client_cpu": client_cpu / wall if wall > 0 else 0.0,
           "server_cpu": server_cpu / wall if server_cpu is not None and wall > 0 else None}
    fmt_rss = lambda v: "%.1f MB" % v if v is not None else "n/a"  # noqa: E731
    print("%-24s %3d clients: %6d ok %4d errors in %5.1f s: %7.2f req/s, p50 %7.1f ms, p99 %7.1f ms, "
          "%6.1f completion tokens/s; RSS %s -> %s; CPU cores busy: client %.2f, server %s"
          % (name, clients, n, errors[0], wall, res["rps"], res["p50_ms"], res["p99_ms"], res["tokens_per_s"],
             fmt_rss(rss_before), fmt_rss(rss_after), res["client_cpu"],
             "%.2f" % res["server_cpu"] if res["server_cpu"] is not None else "n/a"), flush=True)
    for s in samples:
        print("    error sample: %s" % s)
    return res


def chat_body(model, system, user, max_tokens):
    return {"model": model, "max_tokens": max_tokens, "temperature": 0,
            "messages": ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]}


def load_more_tickets(paths):
    """The user messages of chat JSONL files (missing files are skipped: the pool is just smaller)."""
    tickets = []
    for path in [p for p in paths.split(",") if p]:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for line in f:
                if line.strip():
                    tickets += [m["content"] for m in json.loads(line)["messages"] if m["role"] == "user"][:1]
    return tickets


def triage_maker(models, system, tickets):
    """Client i asks models[i % len]; each request takes the next ticket of a counter shared by all
    clients (and by every point of the run), so tickets repeat only once the pool is used up."""
    lock = threading.Lock()

    def make(client, k):
        with lock:
            ticket = tickets[TICKET_COUNTER[0] % len(tickets)]
            TICKET_COUNTER[0] += 1
        return "POST", "/v1/chat/completions", chat_body(models[client % len(models)], system, ticket, 4)
    return make


TICKET_COUNTER = [0]


def fmt_rss(r):
    return "%.0f → %.0f" % (r["rss_before"], r["rss_after"]) if r["rss_before"] is not None else "n/a"


def markdown(args, triage, mixed, decode, models_res):
    out = ["Machine: %s, %d cores; %s. Model %s; %.0f s per point%s."
           % (cpu_name(), os.cpu_count() or 0, datetime.date.today().isoformat(), args.model, args.duration,
              ", adapters %s" % ", ".join(args.adapters) if args.adapters else ""), ""]
    if triage or mixed or models_res:
        out += ["| scenario | clients | requests | errors | req/s | vs | p50 ms | p99 ms | tokens/request | RSS MB |",
                "|---|---:|---:|---:|---:|---|---:|---:|---:|---|"]
        one = next((r for r in triage if r["clients"] == 1), None)
        for r in triage:
            vs = "%.2fx 1 client" % (r["rps"] / one["rps"]) if one and one["rps"] else ""
            out.append("| triage, base | %d | %d | %d | %.2f | %s | %.0f | %.0f | %.1f | %s |"
                       % (r["clients"], r["requests"], r["errors"], r["rps"], vs, r["p50_ms"], r["p99_ms"],
                          r["tokens_per_req"], fmt_rss(r)))
        same = next((r for r in triage if mixed and r["clients"] == mixed["clients"]), None)
        if mixed:
            vs = "%.2fx all-base" % (mixed["rps"] / same["rps"]) if same and same["rps"] else ""
            out.append("| triage, base + %d adapters | %d | %d | %d | %.2f | %s | %.0f | %.0f | %.1f | %s |"
                       % (len(args.adapters), mixed["clients"], mixed["requests"], mixed["errors"], mixed["rps"], vs,
                          mixed["p50_ms"], mixed["p99_ms"], mixed["tokens_per_req"], fmt_rss(mixed)))
        if models_res:
            r = models_res
            out.append("| GET /v1/models | %d | %d | %d | %.1f | | %.1f | %.1f | | %s |"
                       % (r["clients"], r["requests"], r["errors"], r["rps"], r["p50_ms"], r["p99_ms"], fmt_rss(r)))
        out.append("")
    if decode:
        out += ["| live sequences | requests | errors | completion tokens | seconds | decode tokens/s | vs 1 |",
                "|---:|---:|---:|---:|---:|---:|---|"]
        one = next((r for r in decode if r["clients"] == 1), None)
        for r in decode:
            vs = "%.2fx" % (r["tokens_per_s"] / one["tokens_per_s"]) if one and one["tokens_per_s"] else ""
            out.append("| %d | %d | %d | %d | %.1f | %.1f | %s |"
                       % (r["clients"], r["requests"], r["errors"], r["tokens"], r["seconds"], r["tokens_per_s"], vs))
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, default=0, help="server pid, for VmRSS")
    ap.add_argument("--model", default="SmolLM2-135M-Instruct.Q4_1")
    ap.add_argument("--scenario", default="triage,mixed,decode", help="comma-separated: triage, mixed, decode, models")
    ap.add_argument("--clients", type=int_list, default=int_list("1,4,16,32,64"), help="client counts for triage")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per triage / mixed / models point")
    ap.add_argument("--requests", type=int, default=0, help="requests per point instead of a duration")
    ap.add_argument("--adapters", default="", help="comma-separated model ids served with --adapter (mixed)")
    ap.add_argument("--mixed-clients", type=int, default=32)
    ap.add_argument("--decode-seqs", type=int_list, default=int_list("1,2,4,8,16,32"))
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--decode-duration", type=float, default=8.0, help="seconds per decode point (each client "
                    "sends at least one request)")
    ap.add_argument("--triage-file", default=TRIAGE_FILE)
    ap.add_argument("--more-tickets", default=MORE_TICKETS, help="comma-separated chat JSONL files whose user "
                    "messages extend the ticket pool ('' for none)")
    ap.add_argument("--api-key", default="unused")
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--markdown", default="", help="append the Markdown tables to this file")
    args = ap.parse_args()
    args.adapters = [a for a in args.adapters.split(",") if a]
    scenarios = [s for s in args.scenario.split(",") if s]
    unknown = set(scenarios) - {"triage", "mixed", "decode", "models"}
    if unknown:
        ap.error("--scenario: unknown %s (triage, mixed, decode, models)" % ", ".join(sorted(unknown)))
    if "mixed" in scenarios and not args.adapters:
        ap.error("--scenario mixed needs --adapters (model ids served with ftune serve --adapter)")

    triage, mixed, decode, models_res = [], None, [], None
    if "triage" in scenarios or "mixed" in scenarios:
        system, tickets = load_triage(args.triage_file)
        tickets += load_more_tickets(args.more_tickets)
        print("ticket pool: %d tickets" % len(tickets))
    if "triage" in scenarios:
        for n in args.clients:
            triage.append(run_point(args, "triage base", n, triage_maker([args.model], system, tickets), args.duration))
    if "mixed" in scenarios:
        make = triage_maker([args.model] + args.adapters, system, tickets)
        mixed = run_point(args, "triage base+%d adapters" % len(args.adapters), args.mixed_clients, make,
                          args.duration)
    if "decode" in scenarios:
        body = chat_body(args.model, None, DECODE_PROMPT, args.decode_tokens)
        for n in args.decode_seqs:
            decode.append(run_point(args, "decode %d tokens" % args.decode_tokens, n,
                                    lambda client, k: ("POST", "/v1/chat/completions", body), args.decode_duration))
    if "models" in scenarios:
        models_res = run_point(args, "GET /v1/models", max(args.clients), lambda c, k: ("GET", "/v1/models", None),
                               args.duration)
    md = markdown(args, triage, mixed, decode, models_res)
    print()
    print(md)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(md + "\n")


if __name__ == "__main__":
    main()
