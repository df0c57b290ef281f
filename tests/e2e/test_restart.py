"""test_restart.py: `ftune serve` survives a crash. A long job (60 examples, 40 epochs, batch 4 on
tiny-qwen2: 600 steps) is killed with SIGKILL while it runs, after its first checkpoint; a second
job waits in the queue behind it. After a restart on the same data directory the first job goes
on from its last checkpoint (not from step 1) and succeeds, keeping every event and checkpoint
from before the crash; its results CSV holds each step once; the upload still downloads byte for
byte; the second job then runs and succeeds (one job trains at a time, in order). While the first
job trains, a chat completion on the base model is answered (serving does not wait for training).
Then SIGTERM during a job: a prompt clean exit, and the job goes on after the next start.
Plain script: `python3 tests/e2e/test_restart.py`.
"""
import base64
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402
from serve_util import stop_and_clean, Server, chat_example, check, run_tests, wait_job, write_jsonl  # noqa: E402

BASE = "tiny-qwen2"
N_EXAMPLES = 60
EPOCHS = int(os.environ.get("FTUNE_E2E_RESTART_EPOCHS", "40"))
BATCH = 4
STEPS_PER_EPOCH = N_EXAMPLES // BATCH
TOTAL = EPOCHS * STEPS_PER_EPOCH


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-rs-")
    c.data_dir = os.path.join(c.tmp, "data")
    c.server = Server(c.data_dir).start()
    c.client = c.server.client()
    c.path = write_jsonl(os.path.join(c.tmp, "long.jsonl"), [chat_example(i, long=True) for i in range(N_EXAMPLES)])
    with open(c.path, "rb") as f:
        c.data = f.read()
    return c


def teardown(c):
    stop_and_clean(c)


def all_events(client, job_id):
    return list(client.fine_tuning.jobs.list_events(job_id, limit=100))


def test_start_jobs(c):
    client = c.client
    with open(c.path, "rb") as f:
        c.file_id = client.files.create(file=f, purpose="fine-tune").id
    hp = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": EPOCHS, "batch_size": BATCH}}}
    c.job1 = client.fine_tuning.jobs.create(training_file=c.file_id, model=BASE, suffix="long", method=hp, seed=1).id
    c.job2 = client.fine_tuning.jobs.create(
        training_file=c.file_id, model=BASE, suffix="second", seed=2,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": BATCH}}}).id


def test_chat_while_training(c):
    client = c.client
    deadline = time.time() + 60
    while True:
        job = client.fine_tuning.jobs.retrieve(c.job1)
        if job.status == "running":
            break
        check(job.status in ("validating_files", "queued"), "job 1 is %r before running: %r" % (job.status, job.error))
        check(time.time() < deadline, "job 1 not running after 60 s (status %r)" % job.status)
        time.sleep(0.05)
    t0 = time.time()
    r = client.chat.completions.create(model=BASE, messages=[{"role": "user", "content": "Hello"}], max_tokens=4,
                                       temperature=0, timeout=20)
    dt = time.time() - t0
    check(r.choices[0].message.role == "assistant", "chat during training: %r" % r)
    job = client.fine_tuning.jobs.retrieve(c.job1)
    check(job.status == "running", "job 1 is %r after the chat: the chat should be answered while it trains "
          "(make the job longer with FTUNE_E2E_RESTART_EPOCHS if the machine is very fast)" % job.status)
    print("     chat answered in %.2f s while job 1 trained" % dt)
    j2 = client.fine_tuning.jobs.retrieve(c.job2)
    check(j2.status in ("validating_files", "queued"), "job 2 is %r while job 1 runs (one job at a time)" % j2.status)


def test_kill_after_checkpoint(c):
    client = c.client
    # kill in the middle of an epoch, a few steps after the first checkpoint, so that the restart
    # has steps to redo (steps after the checkpoint, before the kill)
    deadline = time.time() + 60
    while True:
        cps = list(client.fine_tuning.jobs.checkpoints.list(c.job1, limit=100))
        steps = [e.data["step"] for e in client.fine_tuning.jobs.list_events(c.job1, limit=100)
                 if e.type == "metrics" and e.data]
        if cps and steps and max(steps) >= STEPS_PER_EPOCH + 5:
            break
        check(time.time() < deadline, "job 1 has no checkpoint and 5 more steps after 60 s")
        time.sleep(0.02)
    job = client.fine_tuning.jobs.retrieve(c.job1)
    check(job.status == "running", "job 1 is %r at its first checkpoint; it should still be running" % job.status)
    c.pre_events = all_events(client, c.job1)
    cps = list(client.fine_tuning.jobs.checkpoints.list(c.job1, limit=100))
    c.pre_ckpts = cps
    c.pre_ckpt_step = max(cp.step_number for cp in cps)
    c.pre_job2_events = all_events(client, c.job2)
    c.server.kill_9()
    check(not c.server.alive(), "server still alive after SIGKILL")
    metric_steps = [e.data["step"] for e in c.pre_events if e.type == "metrics" and e.data]
    c.pre_step = max(metric_steps) if metric_steps else 0
    print("     killed at about step %d/%d (checkpoint at step %d, %d events)"
          % (c.pre_step, TOTAL, c.pre_ckpt_step, len(c.pre_events)))
    check(c.pre_step < TOTAL, "job 1 had already finished its steps before the kill")


def test_restart_resumes(c):
    # an upload cut off by the kill leaves its spool file; the restart sweeps it
    c.partial = os.path.join(c.server.data_dir, "tmp", "upload-killed")
    with open(c.partial, "wb") as f:
        f.write(b"x" * 4096)
    c.server.start(port=c.server.port)  # same data directory, same port
    check(not os.path.exists(c.partial), "the partial upload %s is still there after the restart" % c.partial)
    for path, mode in ((c.server.data_dir, 0o700), (os.path.join(c.server.data_dir, "ftune.db"), 0o600)):
        got = os.stat(path).st_mode & 0o777
        check(got == mode, "%s has mode %o, expected %o (the server's data is its owner's alone)" % (path, got, mode))
    client = c.client
    job = client.fine_tuning.jobs.retrieve(c.job1)
    check(job.status in ("queued", "running", "succeeded"),
          "job 1 after the restart is %r (error %r); it should be resumed" % (job.status, job.error))
    job, seen = wait_job(client, c.job1, timeout=300, interval=0.5)
    check(job.status == "succeeded",
          "job 1 ended %r after the restart (statuses %s): %r" % (job.status, seen, job.error))
    if "running" not in seen:
        print("note: 'running' not seen after the restart (statuses %s)" % seen)
    c.job1_obj = job


def test_history_kept(c):
    client = c.client
    events = all_events(client, c.job1)
    ids = [e.id for e in events]
    check(len(set(ids)) == len(ids), "event ids repeat after the restart")
    missing = [(e.id, e.message) for e in c.pre_events if e.id not in set(ids)]
    check(not missing, "%d events from before the kill are gone, e.g. %s" % (len(missing), missing[:3]))
    # Metrics steps, oldest first: before the kill 1, 2, ... k; after the restart training goes on
    # from the last checkpoint c <= k, so the steps drop back once, to c + 1 (c >= the checkpoint
    # seen before the kill); no drop when the kill fell right on a checkpoint.
    steps = [e.data["step"] for e in reversed(events) if e.type == "metrics" and e.data]
    drops = [i for i in range(1, len(steps)) if steps[i] <= steps[i - 1]]
    check(len(drops) <= 1, "metrics steps go back more than once: %s" % [steps[i - 1:i + 1] for i in drops])
    dense = all(b == a + 1 for a, b in zip(steps, steps[1:]) if b > a)
    if drops:
        resumed = steps[drops[0]]
        check(resumed > c.pre_ckpt_step,
              "after the restart training began again at step %d; it should go on after the checkpoint at step %d"
              % (resumed, c.pre_ckpt_step))
        if dense:
            check((resumed - 1) % STEPS_PER_EPOCH == 0,
                  "training resumed at step %d, which is not just after an epoch checkpoint (%d steps per epoch)"
                  % (resumed, STEPS_PER_EPOCH))
    else:
        resumed = None
    check(steps[-1] == TOTAL, "last metrics step %d, expected %d" % (steps[-1], TOTAL))
    if dense:
        check(sorted(set(steps)) == list(range(1, TOTAL + 1)), "metrics events miss steps")
    msgs = [e.message for e in reversed(events)]
    check(msgs[-1] == "The job has successfully completed", "last event %r" % msgs[-1])
    check(msgs.count("Created fine-tuning job: %s" % c.job1) == 1, "'Created' event repeated: %s" % msgs[:8])
    print("     resumed at step %s; %d events (%d before the kill)" % (resumed, len(events), len(c.pre_events)))

    cps = list(client.fine_tuning.jobs.checkpoints.list(c.job1, limit=100))
    check(cps, "no checkpoints after the restart")
    steps = [cp.step_number for cp in cps]
    check(steps == sorted(steps, reverse=True) and len(set(steps)) == len(steps), "checkpoint steps %s" % steps)
    check(steps[0] == TOTAL, "newest checkpoint at step %d, expected %d" % (steps[0], TOTAL))
    ft = c.job1_obj.fine_tuned_model
    for cp in cps:
        check(cp.fine_tuned_model_checkpoint == "%s:ckpt-step-%d" % (ft, cp.step_number),
              "checkpoint model %r" % cp.fine_tuned_model_checkpoint)
    # checkpoints seen before the kill are still there unless pruned to the last epochs
    kept = {cp.id for cp in cps}
    gone = [cp.step_number for cp in c.pre_ckpts if cp.id not in kept]
    if gone:
        check(len(cps) <= 3 and min(steps) > max(gone),
              "checkpoints at steps %s from before the kill are gone, but %d checkpoints are listed" % (gone, len(cps)))

    raw = client.files.content(c.job1_obj.result_files[0]).read()
    rows = base64.b64decode(raw).decode().strip().splitlines()[1:]
    got = [int(r.split(",")[0]) for r in rows]
    check(got == list(range(1, TOTAL + 1)),
          "results CSV after a resumed run should hold steps 1..%d once each; it has %d rows (first %s, last %s)"
          % (TOTAL, len(got), got[:3], got[-3:]))
    got = client.files.content(c.file_id).read()
    check(got == c.data, "the uploaded file no longer downloads byte for byte after the restart")
    r = client.chat.completions.create(model=ft, messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    check(r.choices[0].message.role == "assistant", "chat with the resumed job's model: %r" % r)


def test_second_job_after_first(c):
    client = c.client
    job2, seen = wait_job(client, c.job2, timeout=300, interval=0.5)
    check(job2.status == "succeeded", "job 2 ended %r (%s): %r" % (job2.status, seen, job2.error))
    events = list(reversed(all_events(client, c.job2)))
    pre = {e.id for e in c.pre_job2_events}
    check(pre <= {e.id for e in events}, "job 2 lost events from before the kill")
    started = [e for e in events if e.message == "Fine-tuning job started"]
    check(len(started) >= 1, "job 2 has no 'Fine-tuning job started' event")
    j1_done = [e for e in all_events(client, c.job1) if e.message == "The job has successfully completed"][0]
    check(started[0].created_at >= j1_done.created_at,
          "job 2 started (%d) before job 1 finished (%d): one job trains at a time"
          % (started[0].created_at, j1_done.created_at))
    check(job2.finished_at >= c.job1_obj.finished_at, "job 2 finished before job 1")
    check(job2.fine_tuned_model != c.job1_obj.fine_tuned_model, "both jobs have the same model name")
    ids = [m.id for m in client.models.list()]
    for m in (c.job1_obj.fine_tuned_model, job2.fine_tuned_model):
        check(m in ids, "models.list lacks %s after the restart" % m)


def test_sigterm_resume(c):
    """SIGTERM while a job trains: the server exits 0 promptly; after a restart the job goes on and
    succeeds; a model deleted before the stop stays deleted."""
    client = c.client
    short = write_jsonl(os.path.join(c.tmp, "short.jsonl"), [chat_example(i) for i in range(20)])
    with open(short, "rb") as f:
        fid = client.files.create(file=f, purpose="fine-tune").id
    gone = client.fine_tuning.jobs.retrieve(c.job2).fine_tuned_model
    check(client.models.delete(gone).deleted is True, "models.delete(%s)" % gone)
    job = client.fine_tuning.jobs.create(
        training_file=fid, model=BASE, suffix="term",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 12, "batch_size": 2}}}).id
    deadline = time.time() + 60
    while not list(client.fine_tuning.jobs.checkpoints.list(job, limit=1)):
        check(time.time() < deadline, "no checkpoint of the SIGTERM job after 60 s")
        time.sleep(0.05)
    check(client.fine_tuning.jobs.retrieve(job).status == "running", "the SIGTERM job is not running")
    t0 = time.time()
    rc = c.server.stop(timeout=15)
    dt = time.time() - t0
    check(rc == 0, "ftune serve exited with status %s on SIGTERM (expected 0)\n%s" % (rc, c.server.log_tail(1500)))
    check(dt < 10, "ftune serve took %.1f s to stop on SIGTERM" % dt)
    c.server.start(port=c.server.port)
    j, seen = wait_job(client, job, timeout=300)
    check(j.status == "succeeded", "the job stopped by SIGTERM ended %r after the restart: %r" % (j.status, j.error))
    steps = [e.data["step"] for e in reversed(list(client.fine_tuning.jobs.list_events(job, limit=100)))
             if e.type == "metrics" and e.data]
    drops = [steps[i] for i in range(1, len(steps)) if steps[i] <= steps[i - 1]]
    check(not drops or min(drops) > 1, "after SIGTERM and a restart the job trained again from step 1")
    ids = [m.id for m in client.models.list()]
    check(gone not in ids, "the model deleted before the restart is listed again: %s" % gone)
    try:
        client.models.retrieve(gone)
        raise AssertionError("models.retrieve(%s) after the restart: no 404" % gone)
    except openai.NotFoundError:
        pass
    check(j.fine_tuned_model in ids, "models.list lacks %s" % j.fine_tuned_model)


TESTS = [test_start_jobs, test_chat_while_training, test_kill_after_checkpoint, test_restart_resumes, test_history_kept,
         test_second_job_after_first, test_sigterm_resume]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
