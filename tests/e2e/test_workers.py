"""test_workers.py: several machines' topology on one: two API nodes (`ftune serve --no-worker`)
and two workers (`ftune worker`) on one PostgreSQL database (a throwaway cluster,
tests/pg_cluster.sh) and one data directory, driven through the official SDK.
- Jobs created on either API node are trained by both workers (each job's events name its
  worker), and a fine-tuned model answers through the node that did not create it.
- `kill -9` of the worker that trains a job in mid-epoch: the other worker takes it over once the
  lease (2 s here) runs out, from the checkpoint the job records, and finishes it; the results file
  holds each step once, and no step's metrics event is lost.
- A worker started while the jobs' leases are live takes none of them; a second worker with the
  id of a live one is refused, naming it.
- An Evals API run is carried out by one API node (their eval runners claim runs as workers claim
  jobs): a cancel through the other node stops it, and after a `kill -9` of the node that holds it
  the other node takes it over and completes it, each row's output item once.
- A cancel sent to one API node stops the job on whichever worker trains it.
Skipped (exit 0, with a message) where the PostgreSQL server binaries are absent.
Plain script: `python3 tests/e2e/test_workers.py`.
"""
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import (BINARY, MODELS, ROOT, Server, TestFailure, chat_example, check, pg_available,  # noqa: E402
                        pg_start, pg_stop, run_tests, wait_job, write_jsonl)

BASE = "tiny-qwen2"
LEASE_S = 2
LONG_EXAMPLES, LONG_BATCH, LONG_EPOCHS = 40, 4, 20
LONG_STEPS_PER_EPOCH = LONG_EXAMPLES // LONG_BATCH
LONG_TOTAL = LONG_EPOCHS * LONG_STEPS_PER_EPOCH


class Worker:
    """An `ftune worker` process with its log."""

    def __init__(self, c, node_id):
        self.node_id = node_id
        self.log_path = os.path.join(c.tmp, "worker-%s.log" % node_id)
        self.cmd = [BINARY, "worker", "--data", c.data_dir, "--database", c.url, "--models", MODELS,
                    "--node-id", node_id, "--lease-seconds", str(LEASE_S), "--threads", "1"]
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            check(self.proc.poll() is None, "worker %s exited: %s" % (self.node_id, self.log()))
            if "training the jobs of" in self.log():
                return self
            time.sleep(0.1)
        raise TestFailure("worker %s did not start: %s" % (self.node_id, self.log()))

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill_9(self):
        self.proc.kill()
        self.proc.wait()


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-workers-")
    c.url, c.pg_dir = pg_start()
    c.data_dir = os.path.join(c.tmp, "data")
    c.apis = [Server(c.data_dir, extra_args=["--database", c.url, "--no-worker", "--node-id", "api-%d" % i,
                                             "--lease-seconds", str(LEASE_S)]).start()
              for i in (1, 2)]
    c.server = c.apis[0]  # run_tests prints its log on a failure
    c.clients = [a.client() for a in c.apis]
    c.workers = {n: Worker(c, n).start() for n in ("worker-1", "worker-2")}
    for w in c.workers.values():
        w.wait_ready()
    return c


def teardown(c):
    if c is None:
        return
    for w in getattr(c, "workers", {}).values():
        w.stop()
    for a in getattr(c, "apis", []):
        a.stop()
    pg_stop(c.pg_dir)
    if os.environ.get("FTUNE_E2E_KEEP"):
        print("kept", c.tmp)
    else:
        shutil.rmtree(c.tmp, ignore_errors=True)


def events_of(client, job_id):
    """Every event of a job, oldest first."""
    out, after = [], None
    while True:
        page = client.fine_tuning.jobs.list_events(job_id, limit=100, **({"after": after} if after else {}))
        out += page.data
        if not page.has_more:
            return list(reversed(out))
        after = page.data[-1].id


def worker_of(events):
    """The worker named by a job's 'Training precision: ...; worker: W' events (the last one)."""
    names = [e.message.rsplit("worker: ", 1)[1] for e in events if e.message.startswith("Training precision")]
    return names[-1] if names else None


def upload(c, name, examples, node=0):
    path = write_jsonl(os.path.join(c.tmp, name), examples)
    with open(path, "rb") as f:
        return c.clients[node].files.create(file=f, purpose="fine-tune").id


def create_job(c, file_id, epochs, batch, node, suffix):
    hp = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs, "batch_size": batch}}}
    return c.clients[node].fine_tuning.jobs.create(training_file=file_id, model=BASE, suffix=suffix, method=hp,
                                                   seed=5).id


def test_jobs_spread_over_workers(c):
    c.long_file = upload(c, "long.jsonl", [chat_example(i, long=True) for i in range(LONG_EXAMPLES)])
    jobs = [create_job(c, c.long_file, 3, LONG_BATCH, i % 2, "spread%d" % i) for i in range(4)]
    used = {}
    for job_id in jobs:
        job, seen = wait_job(c.clients[1], job_id, timeout=300)
        check(job.status == "succeeded", "job %s ended %r: %r (statuses %s)" % (job_id, job.status, job.error, seen))
        used[job_id] = worker_of(events_of(c.clients[0], job_id))
    check(set(used.values()) == {"worker-1", "worker-2"}, "the 4 jobs ran on %s, not on both workers" % used)
    # the model trained by a worker answers through either API node (shared data directory)
    model = c.clients[0].fine_tuning.jobs.retrieve(jobs[0]).fine_tuned_model
    r = c.clients[1].chat.completions.create(model=model, max_tokens=8,
                                              messages=[{"role": "user", "content": "What colour is item 3?"}])
    check(r.choices[0].message.content is not None, "no reply from %s" % model)
    print("     jobs ran on %s" % sorted(used.values()))


def metrics_steps(events):
    return [e.data["step"] for e in events if e.type == "metrics" and e.data]


def wait_for_step(c, job_id, step, timeout=300):
    """Polls the job's events until a metrics event of step >= step; returns (events, worker)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ev = events_of(c.clients[0], job_id)
        steps = metrics_steps(ev)
        if steps and max(steps) >= step:
            return ev, worker_of(ev)
        job = c.clients[0].fine_tuning.jobs.retrieve(job_id)
        check(job.status in ("validating_files", "queued", "running"), "job %s is %r" % (job_id, job.status))
        time.sleep(0.05)
    raise TestFailure("job %s did not reach step %d" % (job_id, step))


def test_kill9_worker_job_taken_over(c):
    job_id = create_job(c, c.long_file, LONG_EPOCHS, LONG_BATCH, 0, "takeover")
    # mid-epoch 2: past the first checkpoint (step 10), before the second
    ev, victim = wait_for_step(c, job_id, LONG_STEPS_PER_EPOCH + 2)
    check(victim in c.workers, "job %s runs on %r" % (job_id, victim))
    killed_at = max(metrics_steps(ev))
    check(killed_at < LONG_TOTAL, "the job ended before the kill")
    c.workers[victim].kill_9()
    survivor = [n for n in c.workers if n != victim][0]
    t0 = time.time()
    job, seen = wait_job(c.clients[1], job_id, timeout=300)
    check(job.status == "succeeded", "job ended %r: %r (statuses %s)" % (job.status, job.error, seen))
    ev = events_of(c.clients[1], job_id)
    msgs = [e.message for e in ev]
    taken = [m for m in msgs if m.startswith("Fine-tuning job taken over")]
    check(len(taken) == 1 and ("worker %s" % survivor) in taken[0] and ("worker %s stopped" % victim) in taken[0],
          "takeover events %s (killed %s)" % (taken, victim))
    resumed_from = int(taken[0].split("from step ")[1].split(":")[0])
    # from the epoch checkpoint before the kill (one the victim may have passed after the step seen)
    check(resumed_from % LONG_STEPS_PER_EPOCH == 0 and resumed_from >= LONG_STEPS_PER_EPOCH *
          (killed_at // LONG_STEPS_PER_EPOCH), "resumed from step %d, the kill came after step %d (checkpoints every %d)"
          % (resumed_from, killed_at, LONG_STEPS_PER_EPOCH))
    steps = metrics_steps(ev)
    missing = sorted(set(range(1, LONG_TOTAL + 1)) - set(steps))
    check(not missing, "metrics events lost for steps %s" % missing[:10])
    # a step's event is written just before its progress: a kill between the two is the only repeat
    check(len(steps) - LONG_TOTAL <= 1, "%d metrics events for %d steps" % (len(steps), LONG_TOTAL))
    # the results file: each step once, in order
    content = c.clients[1].files.content(job.result_files[0]).read()
    rows = base64.b64decode(content).decode().splitlines()[1:]
    got = [int(r.split(",")[0]) for r in rows]
    check(got == list(range(1, LONG_TOTAL + 1)), "results steps %s" % got)
    print("     killed %s at step %d; %s went on from step %d, %.1f s later it had finished"
          % (victim, killed_at, survivor, resumed_from, time.time() - t0))
    c.workers[victim] = Worker(c, victim).start().wait_ready()  # its id is free: its process is gone


def test_live_lease_kept_and_id_refused(c):
    many = upload(c, "many.jsonl", [chat_example(i, long=True) for i in range(200)], node=1)
    job_id = create_job(c, many, 50, 1, 1, "lease")  # 10,000 steps: cancelled long before its end
    ev, runner = wait_for_step(c, job_id, 2)
    # a third worker that starts now finds the running job's lease live: it takes nothing
    third = Worker(c, "worker-3").start().wait_ready()
    # a worker with the id of a live one is refused, naming the id
    twin = Worker(c, runner).start()
    rc = twin.proc.wait(30)
    check(rc != 0 and "is in use" in twin.log(), "a second %s: status %s, log %s" % (runner, rc, twin.log()))
    time.sleep(3 * LEASE_S)
    ev = events_of(c.clients[0], job_id)
    check(not [e for e in ev if e.message.startswith("Fine-tuning job taken over")],
          "a live worker's job was taken over: %s" % [e.message for e in ev])
    check(worker_of(ev) == runner, "the job moved from %s to %s" % (runner, worker_of(ev)))
    check(third.stop() == 0, "worker-3 did not stop cleanly: %s" % third.log())
    c.lease_job = job_id


def test_cancel_reaches_the_worker(c):
    job_id = c.lease_job
    runner = worker_of(events_of(c.clients[0], job_id))
    # cancelled through the API node that did not create it
    job = c.clients[0].fine_tuning.jobs.cancel(job_id)
    check(job.status == "cancelled", "cancel answered %r" % job.status)
    time.sleep(1.0)
    before = len(metrics_steps(events_of(c.clients[1], job_id)))
    time.sleep(2.0)
    after = len(metrics_steps(events_of(c.clients[1], job_id)))
    check(before == after, "worker %s went on training a cancelled job (%d then %d metrics events)"
          % (runner, before, after))
    check(c.clients[1].fine_tuning.jobs.retrieve(job_id).status == "cancelled", "status changed after the cancel")
    # both workers stop cleanly (their leases end)
    for w in c.workers.values():
        check(w.stop() == 0, "worker %s did not stop cleanly: %s" % (w.node_id, w.log()))


EVAL_SCHEMA = {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}


def long_eval_run(c, node, rows):
    """An eval and a completions run of `rows` rows on tiny-qwen2 (long replies), created on a node."""
    client = c.clients[node]
    ev = client.evals.create(name="multi-node", data_source_config={"type": "custom", "item_schema": EVAL_SCHEMA},
                             testing_criteria=[{"type": "string_check", "name": "nonempty",
                                                "input": "{{sample.output_text}}", "reference": "", "operation": "ne"}])
    content = [{"item": {"question": "Tell me about item %d." % i}} for i in range(rows)]
    src = {"type": "completions", "model": BASE,
           "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{item.question}}"}]},
           "sampling_params": {"temperature": 0, "max_completion_tokens": 48},
           "source": {"type": "file_content", "content": content}}
    return ev.id, client.evals.runs.create(ev.id, data_source=src).id


def run_holder(c, run_id):
    """The node that holds an eval run, read from the database (the API does not show it)."""
    out = subprocess.run(["bash", "-c", '"$(bash %s bindir)/psql" "$1" -tAc "$2"' % os.path.join(ROOT, "tests",
                                                                                                   "pg_cluster.sh"),
                          "psql", c.url, "SELECT worker FROM eval_runs WHERE id = '%s'" % run_id],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return out.stdout.decode().strip()


def wait_items(c, eval_id, run_id, n, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = c.clients[1].evals.runs.retrieve(run_id, eval_id=eval_id)
        if run.result_counts.total >= n:
            return run
        check(run.status in ("queued", "in_progress"), "run %s is %s" % (run_id, run.status))
        time.sleep(0.2)
    raise TestFailure("run %s did not reach %d rows" % (run_id, n))


def test_eval_run_cancelled_through_other_node(c):
    eval_id, run_id = long_eval_run(c, 0, 500)
    wait_items(c, eval_id, run_id, 2)
    holder = run_holder(c, run_id)
    other = 1 if holder == "api-1" else 0
    check(holder in ("api-1", "api-2"), "the run is held by %r" % holder)
    run = c.clients[other].evals.runs.cancel(run_id, eval_id=eval_id)
    check(run.status == "canceled", "cancel through %s answered %s" % (("api-1", "api-2")[other], run.status))
    time.sleep(2.0)
    before = c.clients[0].evals.runs.retrieve(run_id, eval_id=eval_id)
    time.sleep(2.0)
    after = c.clients[1].evals.runs.retrieve(run_id, eval_id=eval_id)
    check(before.status == after.status == "canceled", "statuses after the cancel: %s, %s" % (before.status,
                                                                                          after.status))
    check(before.result_counts.total == after.result_counts.total < 500,
          "%s went on with a run cancelled on the other node: %s then %s rows" % (holder, before.result_counts.total,
                                                                                 after.result_counts.total))


def test_eval_run_taken_over_after_kill9(c):
    eval_id, run_id = long_eval_run(c, 0, 300)
    wait_items(c, eval_id, run_id, 3)
    holder = run_holder(c, run_id)
    idx = {"api-1": 0, "api-2": 1}.get(holder)
    check(idx is not None, "the run is held by %r" % holder)
    c.apis[idx].kill_9()
    survivor = c.clients[1 - idx]
    deadline = time.time() + 300
    while time.time() < deadline:
        run = survivor.evals.runs.retrieve(run_id, eval_id=eval_id)
        if run.status not in ("queued", "in_progress"):
            break
        time.sleep(0.5)
    check(run.status == "completed", "after %s's kill the run is %s: %s" % (holder, run.status, run.error))
    check(run_holder(c, run_id) != holder, "the run is still %s's" % holder)
    got = list(survivor.evals.runs.output_items.list(run_id, eval_id=eval_id, limit=100))
    ids = sorted(it.datasource_item_id for it in got)
    check(ids == list(range(300)) and run.result_counts.total == 300,
          "output items %s (%d counted)" % (ids, run.result_counts.total))
    c.apis[idx].start(port=c.apis[idx].port)  # back, for the tests after


def main():
    if not pg_available():
        print("skipped: no PostgreSQL server binaries (initdb, pg_ctl): scripts/setup.sh installs the postgresql "
              "package")
        sys.exit(0)
    run_tests([test_jobs_spread_over_workers, test_kill9_worker_job_taken_over, test_live_lease_kept_and_id_refused,
               test_cancel_reaches_the_worker, test_eval_run_cancelled_through_other_node,
               test_eval_run_taken_over_after_kill9], setup, teardown)


if __name__ == "__main__":
    main()
