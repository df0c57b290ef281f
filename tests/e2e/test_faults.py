"""test_faults.py: the fault-injection sweep (issue 11), as SQLite tests itself: the real server
runs the upload -> job -> checkpoint -> result path (durability.py's workload: two uploads, one
with expires_after, and a 2-epoch job on tiny-qwen2 with checkpoints and a results file) with
FTUNE_FAULT=KIND:N, so that the Nth write, fsync, rename, allocation of ftune's (alloc) or of
SQLite's (sqlalloc) of the process fails, once (core/fault.h). After each run the server is
stopped (SIGTERM), its database must pass PRAGMA integrity_check, and a restart without faults
must find every object the faulted run acknowledged (files byte for byte, jobs), bring every job
to a terminal status (none stuck `running`), and have a succeeded job's results, model and
checkpoints; and no upload or job it refused may be there. A faulted server may refuse a request
(5xx) or fail a job with an error, or exit at start-up with a message; it must never die of a
signal nor hang.

    python3 tests/e2e/test_faults.py                 # a sample: FTUNE_FAULT_POINTS (default 3) per kind
    python3 tests/e2e/test_faults.py --all           # every N of each kind until one does not fire;
                                                     # SQLite's allocations every --sqlalloc-stride
    python3 tests/e2e/test_faults.py --kinds write --from 100 --to 120   # a range, to reproduce one
                                                     # (with --all: from --from on)
    ... --report FILE                                # appends the summary (Markdown) to FILE

A calibration run (FTUNE_FAULT armed with an N never reached) counts each kind's operations
first; the sample spreads its points over that range (the first and last included). Exits 1
when any run crashed, hung, failed to restart, failed the integrity check or lost anything.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durability as d  # noqa: E402
from serve_util import Server, TestFailure  # noqa: E402

KINDS = ("write", "fsync", "rename", "alloc", "sqlalloc")
EXPIRES = {"anchor": "created_at", "seconds": 86400}
FAULTED_JOB_WAIT_S = 60.0  # a faulted run's job must not go this long without a new event


def start(data, fault):
    """A server on data with FTUNE_FAULT=fault (None: without): (server, None), or (None, why) when
    it did not start."""
    if fault:
        os.environ["FTUNE_FAULT"] = fault
    try:
        return Server(data, extra_args=d.SERVER_ARGS).start(), None
    except TestFailure as e:
        return None, str(e)
    finally:
        os.environ.pop("FTUNE_FAULT", None)


def unacknowledged(server, acked):
    """Uploads and jobs the server keeps although it refused them (a client would retry and have
    them twice): none may be, since no fault here can hit the answer after the commit."""
    client = server.client()
    files = [f.id for f in client.files.list(purpose="fine-tune")]
    jobs = [j.id for j in client.fine_tuning.jobs.list(limit=100)]
    return (["file %s was kept, its upload refused" % f for f in files if f not in acked.files] +
            ["job %s was kept, its creation refused" % j for j in jobs if j not in acked.jobs])


def log_of(data):
    parent = os.path.dirname(data)
    text = ""
    for name in sorted(os.listdir(parent)):
        if name.startswith("serve-%s-" % os.path.basename(data)):
            with open(os.path.join(parent, name), "rb") as f:
                text += f.read().decode("utf-8", "replace")
    return text


def run_point(tmp, kind, n, seed):
    """One faulted run and its restart: a dict of what happened (problems in 'problems')."""
    data = os.path.join(tmp, "%s-%d" % (kind, n))
    acked = d.Acked()
    r = {"kind": kind, "n": n, "problems": [], "status": None, "startup_exit": False, "checks": 0}
    server, why = start(data, "%s:%d" % (kind, n))
    if server is None:
        r["startup_exit"] = True
        # a start-up failure exits with a message, never dies of a signal nor hangs
        status = re.search(r"exited with status (-?\d+)", why)
        if not status or int(status.group(1)) <= 0:
            r["problems"].append("the faulted server did not exit cleanly at start-up: " + why[:1500])
    else:
        client = server.client(timeout=30.0)
        d.upload(client, d.dataset_bytes(seed + 1000), acked, expires_after=EXPIRES)  # a second row write
        fid = d.upload(client, d.dataset_bytes(seed), acked)
        jid = d.create_job(client, fid, acked) if fid else None
        # until the job ends; stuck = no new event for FAULTED_JOB_WAIT_S (a loaded machine only slows it)
        last_change, last_seen = time.time(), None
        while jid and server.alive() and time.time() - last_change < FAULTED_JOB_WAIT_S:
            r["status"] = d.job_status(client, jid)
            if r["status"] in d.TERMINAL:
                break
            seen = (r["status"], d.newest_event(client, jid))
            if seen != last_seen:
                last_change, last_seen = time.time(), seen
            time.sleep(0.1)
        if jid and server.alive() and r["status"] not in d.TERMINAL:
            r["problems"].append("the faulted run's job is still %s, with no new event for %.0f s (last: %s)" % (
                r["status"], FAULTED_JOB_WAIT_S, last_seen))
        if not server.alive() and server.proc.returncode < 0:
            r["problems"].append("the faulted server died of signal %d" % -server.proc.returncode)
        rc = server.stop()
        if rc is not None and rc < 0 and not r["problems"]:
            r["problems"].append("the faulted server ended with signal %d on SIGTERM" % -rc)
    log = log_of(data)
    r["fired"] = "ftune: fault injected:" in log
    site = re.search(r"ftune: fault injected: \S+ #\d+ at (.*)", log)
    r["site"] = site.group(1).strip() if site else ""
    if os.path.exists(os.path.join(data, "ftune.db")):
        integrity = d.check_database(data)
        if integrity != "ok":
            r["problems"].append("integrity_check: " + integrity)
    again, why = start(data, None)
    if again is None:
        r["problems"].append("the server does not start again without the fault: " + why[:1500])
    else:
        r["checks"], lost = d.check_restarted(again, acked)
        r["problems"] += lost
        r["lost"] = len(lost)
        r["problems"] += unacknowledged(again, acked)
        again.stop()
    r["acked"] = len(acked.files) + len(acked.jobs)
    if r["problems"]:  # what the faulted server said, to find the bug
        said = [line for line in log.splitlines() if line.startswith("ftune")][-12:]
        r["problems"].append("the faulted server's log:\n" + "\n".join(said))
    if r["problems"] and os.environ.get("FTUNE_E2E_KEEP"):
        print("    kept", data)
    else:
        shutil.rmtree(data, ignore_errors=True)
    return r


def calibrate(tmp):
    """Operation counts of an unfaulted run of the workload (FTUNE_FAULT armed, never firing)."""
    data = os.path.join(tmp, "calibration")
    server, why = start(data, "any:1000000000")
    if server is None:
        raise SystemExit("the calibration server did not start: " + why)
    client = server.client()
    acked = d.Acked()
    jid = d.create_job(client, d.upload(client, d.dataset_bytes(0), acked), acked)
    job = d.wait_terminal(client, jid, 120)
    server.stop()
    if job.status != "succeeded":
        raise SystemExit("the unfaulted workload's job ended %s: %s" % (job.status, job.error))
    counts = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", log_of(data).split("fault counts:")[-1]))
    shutil.rmtree(data, ignore_errors=True)
    return counts


def sample_points(total, k):
    if k <= 1 or total <= 1:
        return [1]
    return sorted(set(1 + round(i * (total - 1) / (k - 1)) for i in range(k)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--all", action="store_true", help="every point (SQLite's allocations every --sqlalloc-stride)")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--points", type=int, default=int(os.environ.get("FTUNE_FAULT_POINTS", "3")))
    ap.add_argument("--sqlalloc-stride", type=int, default=50)
    ap.add_argument("--from", dest="first", type=int, default=0)
    ap.add_argument("--to", dest="last", type=int, default=0)
    ap.add_argument("--report", default="")
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            raise SystemExit("unknown kind %r (expected %s)" % (k, ", ".join(KINDS)))
    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix="ftune-e2e-faults-")
    counts = calibrate(tmp)
    print("operations in an unfaulted run: %s" % ", ".join("%s %d" % (k, counts.get(k, 0)) for k in KINDS))
    results, ok = [], True
    for kind in kinds:
        if args.all:  # from --from (default 1) until a fault no longer fires
            stride = args.sqlalloc_stride if kind == "sqlalloc" else 1
            points = iter(range(args.first or 1, 10 ** 9, stride))
        elif args.first:
            points = iter(range(args.first, (args.last or args.first) + 1))
        else:
            points = iter(sample_points(counts.get(kind, 1), args.points))
        for n in points:
            r = run_point(tmp, kind, n, seed=len(results) + 1)
            results.append(r)
            mark = "FAIL" if r["problems"] else "ok  "
            what = "start-up exit" if r["startup_exit"] else "job %s" % r["status"]
            print("%s %s:%d %s%s, %d acknowledged, %d checks after restart" % (
                mark, kind, n, "fired at %s, " % r["site"] if r["fired"] else "did not fire, ", what, r["acked"],
                r["checks"]))
            for p in r["problems"]:
                print("      " + p.replace("\n", "\n      "))
            sys.stdout.flush()
            ok &= not r["problems"]
            if args.all and not r["fired"]:
                break
    shutil.rmtree(tmp, ignore_errors=True)
    fired = [r for r in results if r["fired"]]
    lost = sum(r.get("lost", 0) for r in results)
    summary = ("%d faulted runs (%s), %d fired a fault (%d ended at start-up); %d acknowledged objects, %d checks "
               "after restarts; %d runs with a problem; acknowledged objects lost: %d; %.0f s" % (
                   len(results), ", ".join("%s %d" % (k, sum(r["kind"] == k for r in results)) for k in kinds),
                   len(fired), sum(r["startup_exit"] for r in results), sum(r["acked"] for r in results),
                   sum(r["checks"] for r in results), sum(bool(r["problems"]) for r in results), lost,
                   time.time() - t_start))
    print(summary)
    if args.report:
        with open(args.report, "a") as f:
            f.write("- `%s`: %s\n" % (" ".join(["python3 tests/e2e/test_faults.py"] + sys.argv[1:]), summary))
    print("test_faults.py: %s" % ("passed" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
