"""test_data_dir.py: what `ftune serve` finds in its data directory at start-up (issue 11, items 3,
5 and 6). A database that is missing or empty while files/ and jobs/ hold data, or one that is
corrupt, is refused with a clear message and a non-zero exit, instead of a server started on an
empty or broken record. Checkpoint models keep working when the server is started from another
working directory with a relative --data (paths are recorded relative to the data directory). A
paused job whose directory was deleted fails when resumed, saying so, instead of training again
from step 0 and recording its checkpoints twice.
Plain script: `python3 tests/e2e/test_data_dir.py`.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import BINARY, MODELS, Server, stop_and_clean, chat_example, check, run_tests, wait_job, write_jsonl  # noqa: E402

BASE = "tiny-qwen2"


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-dd-")
    os.mkdir(os.path.join(c.tmp, "one"))
    c.data_dir = os.path.join(c.tmp, "data")
    # started from tmp/one with --data ../data (relative to that working directory)
    c.server = Server("../data", cwd=os.path.join(c.tmp, "one")).start()
    c.client = c.server.client()
    c.path = write_jsonl(os.path.join(c.tmp, "train.jsonl"), [chat_example(i) for i in range(20)])
    with open(c.path, "rb") as f:
        c.file_id = c.client.files.create(file=f, purpose="fine-tune").id
    return c


def teardown(c):
    stop_and_clean(c)


def serve_refused(c, what):
    """Runs ftune serve on the data directory, which must refuse to start: returns its stderr."""
    try:
        p = subprocess.run([BINARY, "serve", "--port", "0", "--data", c.data_dir, "--models", MODELS],
                           capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s: ftune serve started and kept running" % what)
    check(p.returncode != 0, "%s: ftune serve started (exit %d): %s" % (what, p.returncode, p.stderr[-500:]))
    return p.stderr


def test_checkpoint_model_from_another_cwd(c):
    job = c.client.fine_tuning.jobs.create(
        training_file=c.file_id, model=BASE, suffix="paths",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}})
    job, seen = wait_job(c.client, job.id, timeout=120)
    check(job.status == "succeeded", "job ended %r: %r" % (job.status, job.error))
    cps = list(c.client.fine_tuning.jobs.checkpoints.list(job.id))
    check(cps, "no checkpoints")
    c.server.stop()
    c.server = Server("data", cwd=c.tmp).start(port=c.server.port)  # the same data from another working directory
    c.client = c.server.client()
    for model in [job.fine_tuned_model] + [cp.fine_tuned_model_checkpoint for cp in cps]:
        r = c.client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
        check(r.choices[0].message.role == "assistant", "chat with %s from another working directory: %r" % (model, r))


def test_paused_job_directory_deleted(c):
    job = c.client.fine_tuning.jobs.create(
        training_file=c.file_id, model=BASE, suffix="gone",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 30, "batch_size": 2}}}).id
    deadline = time.time() + 90
    while not list(c.client.fine_tuning.jobs.checkpoints.list(job, limit=1)):
        check(time.time() < deadline, "no checkpoint after 90 s")
        time.sleep(0.05)
    c.client.fine_tuning.jobs.pause(job)
    deadline = time.time() + 30
    while not any(e.message.startswith("Fine-tuning job paused at step")
                  for e in c.client.fine_tuning.jobs.list_events(job, limit=20)):
        check(time.time() < deadline, "the job did not stop after the pause")
        time.sleep(0.1)
    before = [cp.step_number for cp in c.client.fine_tuning.jobs.checkpoints.list(job, limit=100)]
    shutil.rmtree(os.path.join(c.data_dir, "jobs", job))
    c.client.fine_tuning.jobs.resume(job)
    j, seen = wait_job(c.client, job, timeout=60)
    check(j.status == "failed", "resumed job without its directory ended %r (statuses %s)" % (j.status, seen))
    check("no longer on the server's disk" in j.error.message and c.tmp not in j.error.message,
          "error message %r" % j.error.message)
    after = [cp.step_number for cp in c.client.fine_tuning.jobs.checkpoints.list(job, limit=100)]
    check(after == before, "checkpoints %s after the resume, %s before (duplicates?)" % (after, before))
    steps = [e.data["step"] for e in reversed(list(c.client.fine_tuning.jobs.list_events(job, limit=200)))
             if e.type == "metrics" and e.data]
    check(all(b > a for a, b in zip(steps, steps[1:])), "the job trained again from an earlier step: %s" % steps)


def test_resumed_job_file_deleted(c):
    """A queued job paused, its training file deleted, then resumed: failed with file_not_found,
    naming the file id and not the server's path (issue 11, item 11)."""
    big = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 50, "batch_size": 1}}}
    with open(c.path, "rb") as f:
        fid = c.client.files.create(file=f, purpose="fine-tune").id
    blocker = c.client.fine_tuning.jobs.create(training_file=c.file_id, model=BASE, method=big).id
    job = c.client.fine_tuning.jobs.create(training_file=fid, model=BASE).id
    deadline = time.time() + 60
    while c.client.fine_tuning.jobs.retrieve(job).status != "queued":
        check(time.time() < deadline, "the job was not queued")
        time.sleep(0.05)
    c.client.fine_tuning.jobs.pause(job)
    c.client.files.delete(fid)
    c.client.fine_tuning.jobs.cancel(blocker)
    c.client.fine_tuning.jobs.resume(job)
    j, seen = wait_job(c.client, job, timeout=60)
    check(j.status == "failed", "job ended %r" % j.status)
    check(j.error.code == "file_not_found" and j.error.param == "training_file", "error %r" % j.error)
    check(fid in j.error.message and "/" not in j.error.message, "error message %r" % j.error.message)


def test_missing_database_refused(c):
    c.server.stop()
    db = os.path.join(c.data_dir, "ftune.db")
    os.rename(db, db + ".away")
    err = serve_refused(c, "ftune.db missing")
    check("missing" in err and "files" in err and "jobs" in err, "message %r" % err)
    open(db, "w").close()
    err = serve_refused(c, "ftune.db empty")
    check("empty" in err, "message %r" % err)
    os.rename(db + ".away", db)


def test_corrupt_database_refused(c):
    c.server.stop()
    db = os.path.join(c.data_dir, "ftune.db")
    shutil.copy(db, db + ".good")
    with open(db, "r+b") as f:
        size = os.path.getsize(db)
        for page in range(4096, size, 4096):
            f.seek(page)
            f.write(b"\x5a" * 16)
    err = serve_refused(c, "ftune.db corrupt")
    check("corrupt" in err or "malformed" in err, "message %r" % err)
    os.replace(db + ".good", db)
    c.server.start(port=c.server.port)  # the good copy is served again
    check(c.client.files.retrieve(c.file_id).id == c.file_id, "the restored database lost the upload")


TESTS = [test_checkpoint_model_from_another_cwd, test_paused_job_directory_deleted, test_resumed_job_file_deleted,
         test_missing_database_refused, test_corrupt_database_refused]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
