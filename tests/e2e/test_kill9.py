"""test_kill9.py: the kill -9 loop (issue 11): `ftune serve` is killed with SIGKILL at a random
moment while jobs train, restarted on the same data directory, checked, and again, ITERATIONS
times. Each iteration uploads a file and creates an 8-epoch job on tiny-qwen2 and
kills the server 0 to KILL_WINDOW_S seconds after that job starts running (or an earlier job,
resumed after the previous kill, trains meanwhile). After each kill the database must pass PRAGMA
integrity_check and the next start must succeed and still serve every acknowledged file byte for
byte and every acknowledged job; at the end a last restart must bring every job to a terminal
status (the killed ones resume from their checkpoints), each succeeded job with its results
(each step once), model and checkpoints. Exits 1 on any problem.

    python3 tests/e2e/test_kill9.py [--iterations N] [--seed S] [--report FILE]

N defaults to FTUNE_KILL9_ITERATIONS or 4 (make test); make test-slow runs 50.
"""
import argparse
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import durability as d  # noqa: E402
from serve_util import Server, TestFailure  # noqa: E402

# 8 epochs of 4 steps, a checkpoint each epoch: about 1-2 s of training on one idle core, so that
# most kills land in it
JOB_METHOD = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 8, "batch_size": 4}}}
KILL_WINDOW_S = 1.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=int(os.environ.get("FTUNE_KILL9_ITERATIONS", "4")))
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--report", default="")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix="ftune-e2e-kill9-")
    data = os.path.join(tmp, "data")
    acked = d.Acked()
    problems, checks, during_training = [], 0, 0
    print("seed %d" % args.seed)
    for i in range(args.iterations):
        try:
            server = Server(data, extra_args=d.SERVER_ARGS).start()
        except TestFailure as e:
            problems.append("iteration %d: no restart after a kill -9: %s" % (i, e))
            break
        client = server.client(timeout=30.0)
        # what earlier iterations had acknowledged is all still there
        for fid, want in acked.files.items():
            checks += 1
            try:
                if client.files.content(fid).read() != want:
                    problems.append("iteration %d: file %s changed" % (i, fid))
            except d.CLIENT_ERRORS as e:
                problems.append("iteration %d: file %s: %r" % (i, fid, e))
        for jid in acked.jobs:
            checks += 1
            if d.job_status(client, jid) is None:
                problems.append("iteration %d: job %s is gone" % (i, jid))
        fid = d.upload(client, d.dataset_bytes(i + 1), acked)
        jid = d.create_job(client, fid, acked, JOB_METHOD) if fid else None
        if not jid:
            problems.append("iteration %d: an unfaulted server refused the upload or the job" % i)
        # a random moment of its training: once it runs (an earlier job resumed first may be training)
        deadline = time.time() + 30
        while jid and d.job_status(client, jid) in ("validating_files", "queued") and time.time() < deadline:
            time.sleep(0.05)
        delay = rng.uniform(0, KILL_WINDOW_S)
        time.sleep(delay)
        statuses = [d.job_status(client, j) for j in acked.jobs]
        training = "running" in statuses
        during_training += training
        server.kill_9()
        integrity = d.check_database(data)
        if integrity != "ok":
            problems.append("iteration %d: integrity_check after kill -9: %s" % (i, integrity))
        print("kill %d at +%.2f s (%s), %d files and %d jobs acknowledged so far, integrity %s" % (
            i + 1, delay, "a job training" if training else "no job training", len(acked.files), len(acked.jobs),
            integrity))
        sys.stdout.flush()
    lost = []
    if not problems or not problems[-1].startswith("iteration %d: no restart" % (args.iterations - 1)):
        try:
            server = Server(data, extra_args=d.SERVER_ARGS).start()
            n, lost = d.check_restarted(server, acked, job_timeout=60.0 + 10.0 * len(acked.jobs))
            checks += n
            problems += lost
            server.stop()
        except TestFailure as e:
            problems.append("the last restart failed: %s" % e)
    for p in problems:
        print("  PROBLEM " + p)
    summary = ("%d kill -9 (%d while a job trained), %d acknowledged objects (%d files, %d jobs), %d checks after "
               "restarts, integrity_check after every kill; acknowledged objects lost: %d; problems: %d; %.0f s" % (
                   args.iterations, during_training, len(acked.files) + len(acked.jobs), len(acked.files),
                   len(acked.jobs), checks, len(lost), len(problems), time.time() - t_start))
    print(summary)
    if args.report:
        with open(args.report, "a") as f:
            f.write("- `python3 tests/e2e/test_kill9.py --iterations %d --seed %d`: %s\n" % (
                args.iterations, args.seed, summary))
    if problems and os.environ.get("FTUNE_E2E_KEEP"):
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_kill9.py: %s" % ("passed" if not problems else "FAILED"))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
