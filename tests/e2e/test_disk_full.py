"""test_disk_full.py: `ftune serve` on a full disk (issue 11, item 1). The data directory lives on
a small tmpfs (needs root to mount; the test says "skipped" and passes without it). The test
fills the disk while a job trains: the job must end `failed` with an error event saying what
could not be written (never stay `running`), the API keeps answering, and DELETE /v1/files/{id}
and DELETE /v1/models/{id} work with the disk still full (the server keeps a reserve,
<data>/reserve, and deletes a blob or adapter before its row when even that is spent). Then a job cut off by a kill -9 is found at the restart
with the disk full and no reserve left: the server must not spin (its CPU time stays low), two
DELETEs still work (blob first), and once they made room for the reserve the restarted worker takes
the job again, fills the disk, and its failure is recorded (`failed`, through the reserve).
Plain script: `python3 tests/e2e/test_disk_full.py`.
"""
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import stop_and_clean, Server, chat_example, check, run_tests, wait_job, write_jsonl  # noqa: E402

BASE = "tiny-qwen2"
TMPFS_MB = 24
LONG_JOB = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 40, "batch_size": 4}}}


class Ctx:
    pass


def fill_disk(path):
    """Writes path until the filesystem is full; returns the bytes written."""
    n = 0
    block = b"\0" * 65536
    with open(path, "ab", buffering=0) as f:
        try:
            while True:
                f.write(block)
                f.flush()
                n += len(block)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        try:  # the last bytes that fit
            while True:
                f.write(b"\0" * 512)
                f.flush()
                n += 512
        except OSError:
            pass
    return n


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-full-")
    c.mnt = os.path.join(c.tmp, "mnt")
    os.mkdir(c.mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % TMPFS_MB, "tmpfs", c.mnt],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    c.mounted = r.returncode == 0
    c.server = None
    if not c.mounted:
        return c
    c.data_dir = os.path.join(c.mnt, "data")
    c.filler = os.path.join(c.mnt, "filler")
    c.server = Server(c.data_dir)
    c.server.log_path = os.path.join(c.tmp, "serve.log")  # not on the disk that fills
    c.server.start()
    c.client = c.server.client()
    c.path = write_jsonl(os.path.join(c.tmp, "long.jsonl"), [chat_example(i, long=True) for i in range(200)])
    return c


def teardown(c):
    if c.server is not None:
        c.server.stop()
    if c.mounted:
        subprocess.run(["umount", "-l", c.mnt])
    if os.environ.get("FTUNE_E2E_KEEP"):
        print("kept", c.tmp)
    else:
        shutil.rmtree(c.tmp, ignore_errors=True)


def upload(c):
    with open(c.path, "rb") as f:
        return c.client.files.create(file=f, purpose="fine-tune").id


def wait_running(c, job_id, steps=3):
    deadline = time.time() + 90
    while True:
        job = c.client.fine_tuning.jobs.retrieve(job_id)
        if job.status == "running":
            metrics = [e for e in c.client.fine_tuning.jobs.list_events(job_id, limit=20) if e.type == "metrics"]
            if len(metrics) >= steps:
                return
        check(job.status in ("validating_files", "queued", "running"), "job is %r: %r" % (job.status, job.error))
        check(time.time() < deadline, "job %s not training after 90 s" % job_id)
        time.sleep(0.1)


def check_failed_for_disk(c, job, what):
    check(job.status == "failed", "%s: job ended %r, expected failed" % (what, job.status))
    check(job.error is not None and job.error.message, "%s: failed job without an error: %r" % (what, job.error))
    msg = job.error.message
    check("could not" in msg and ("full" in msg or "No space" in msg),
          "%s: error message %r should say what could not be written and why" % (what, msg))
    check(c.mnt not in msg, "%s: the message holds the server's path: %r" % (what, msg))
    events = list(c.client.fine_tuning.jobs.list_events(job.id, limit=100))
    check(any(e.level == "error" and e.message == msg for e in events),
          "%s: no error event with the message: %s" % (what, [(e.level, e.message) for e in events[:5]]))


def test_job_fails_when_disk_fills(c):
    if not c.mounted:
        print("     skipped: cannot mount a tmpfs (not root?)")
        return
    check(os.path.getsize(os.path.join(c.data_dir, "reserve")) > 0, "no reserve in the data directory")
    c.file1 = upload(c)
    short = c.client.fine_tuning.jobs.create(  # a fine-tuned model to delete on the full disk later
        training_file=c.file1, model=BASE,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 8}}}).id
    j, seen = wait_job(c.client, short, timeout=120)
    check(j.status == "succeeded", "the short job ended %r: %r" % (j.status, j.error))
    c.model = j.fine_tuned_model
    job = c.client.fine_tuning.jobs.create(training_file=c.file1, model=BASE, method=LONG_JOB, seed=1).id
    wait_running(c, job)
    print("     %d bytes free before filling" % free_bytes(c.mnt))
    fill_disk(c.filler)
    job, seen = wait_job(c.client, job, timeout=90, interval=0.3)
    check_failed_for_disk(c, job, "disk filled while training")
    print("     failed: %s" % job.error.message)


def test_delete_on_full_disk(c):
    if not c.mounted:
        return
    fill_disk(c.filler)  # whatever the failure freed
    check(free_bytes(c.mnt) < 64 << 10, "the disk is not full: %d bytes free" % free_bytes(c.mnt))
    r = c.client.files.delete(c.file1)
    check(r.deleted, "files.delete on a full disk: %r" % r)
    check(c.file1 not in [f.id for f in c.client.files.list()], "the deleted file is still listed")
    fill_disk(c.filler)
    r = c.client.models.delete(c.model)
    check(r.deleted, "models.delete on a full disk: %r" % r)
    check(c.model not in [m.id for m in c.client.models.list()], "the deleted model is still listed")


def test_restart_on_full_disk(c):
    if not c.mounted:
        return
    os.unlink(c.filler)
    deadline = time.time() + 10  # the worker makes the reserve again once there is room
    while not os.path.exists(os.path.join(c.data_dir, "reserve")):
        check(time.time() < deadline, "the reserve was not made again after space was freed")
        time.sleep(0.2)
    c.file2, c.file3 = upload(c), upload(c)
    big = write_jsonl(os.path.join(c.tmp, "big.jsonl"), [chat_example(i, long=True) for i in range(6000)])
    with open(big, "rb") as f:  # about 8 MB: room for the reserve (2 MB) again, as a real clean-up makes
        c.file4 = c.client.files.create(file=f, purpose="fine-tune").id
    job = c.client.fine_tuning.jobs.create(training_file=c.file2, model=BASE, method=LONG_JOB, seed=2).id
    wait_running(c, job)
    c.server.kill_9()
    os.unlink(os.path.join(c.data_dir, "reserve"))
    fill_disk(c.filler)
    c.server.start(port=c.server.port)
    time.sleep(3)  # the trainer finds the job, cannot record anything, and waits for room
    t0, cpu0 = time.time(), cpu_seconds(c.server.pid)
    time.sleep(4)
    used = cpu_seconds(c.server.pid) - cpu0
    check(used < 1.0, "the server used %.1f s of CPU in %.1f s on a full disk (spinning?)" % (used, time.time() - t0))
    status = c.client.fine_tuning.jobs.retrieve(job).status
    check(status in ("running", "failed"), "the job is %r on a full disk" % status)
    r = c.client.files.delete(c.file3)
    check(r.deleted, "files.delete after the restart on a full disk, no reserve left: %r" % r)
    check(c.client.files.retrieve(c.file2).id == c.file2, "the other upload is gone")
    # the restarted worker takes the job again only once the reserve can be made again (so that a
    # failure on the disk it fills is recorded): a delete of a bigger file makes room for it
    r = c.client.files.delete(c.file4)
    check(r.deleted, "a second files.delete on a full disk: %r" % r)
    j, seen = wait_job(c.client, job, timeout=120, interval=0.3)  # it trains until the disk is full again
    check_failed_for_disk(c, j, "resumed on a full disk")


TESTS = [test_job_fails_when_disk_fills, test_delete_on_full_disk, test_restart_on_full_disk]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
