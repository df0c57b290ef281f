"""durability.py: what the fault-injection sweep (test_faults.py) and the kill -9 loop
(test_kill9.py) share. A workload drives the upload -> job -> checkpoint -> result path through
the official openai SDK and records every object the server acknowledged (an upload answered 200,
a job created with 200) in Acked; check_database runs SQLite's PRAGMA integrity_check on the data
directory's database; check_restarted, on a server restarted without faults, checks that every
acknowledged object is still there and intact (a file byte for byte, a job retrievable), that
every job reaches a terminal status (a `running` one resumes and ends: none is stuck), and that a
succeeded job's results file (each step once, in order), fine-tuned model and checkpoint models
are there, a failed one has an error message. It returns what it checked and what was lost (must be nothing).
"""
import base64
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402
from serve_util import chat_example  # noqa: E402

BASE = "tiny-qwen2"
N_EXAMPLES = 16
# 2 epochs of 4 steps: a checkpoint at steps 4 and 8 (the API's, one an epoch), results at the end
JOB_METHOD = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}}
TERMINAL = ("succeeded", "failed", "cancelled")
# one compute thread: these loops run hundreds of servers on a shared 2-core machine, where two
# OpenMP threads per server would mostly wait for each other
SERVER_ARGS = ["--threads", "1"]
CLIENT_ERRORS = (openai.APIError, openai.APIConnectionError)


class Acked:
    """Objects the server acknowledged: file id -> bytes uploaded, job ids."""

    def __init__(self):
        self.files = {}
        self.jobs = []


def dataset_bytes(seed):
    import json
    return "".join(json.dumps(chat_example(seed * 100 + i)) + "\n" for i in range(N_EXAMPLES)).encode()


def upload(client, data, acked, **kw):
    """Uploads data; records it when acknowledged. The file id, or None when the server refused."""
    try:
        f = client.files.create(file=("train.jsonl", data), purpose="fine-tune", **kw)
    except CLIENT_ERRORS:
        return None
    acked.files[f.id] = data
    return f.id


def create_job(client, file_id, acked, method=JOB_METHOD):
    try:
        j = client.fine_tuning.jobs.create(training_file=file_id, model=BASE, method=method)
    except CLIENT_ERRORS:
        return None
    acked.jobs.append(j.id)
    return j.id


def job_status(client, job_id):
    try:
        return client.fine_tuning.jobs.retrieve(job_id).status
    except CLIENT_ERRORS:
        return None


def newest_event(client, job_id):
    """The message of the job's newest event (None when it cannot be read)."""
    try:
        events = client.fine_tuning.jobs.list_events(job_id, limit=1).data
    except CLIENT_ERRORS:
        return None
    return events[0].message if events else ""


def check_database(data_dir):
    """PRAGMA integrity_check of data_dir/ftune.db (with its WAL): 'ok' or the first problems."""
    db = sqlite3.connect(os.path.join(data_dir, "ftune.db"), timeout=30)
    try:
        rows = db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()
    return "ok" if rows == [("ok",)] else "; ".join(r[0] for r in rows[:5])


def wait_terminal(client, job_id, timeout):
    """The job's record once it is terminal, or the last one seen when timeout passes."""
    deadline = time.time() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in TERMINAL or time.time() > deadline:
            return job
        time.sleep(0.2)


def check_restarted(server, acked, job_timeout=120.0):
    """Checks a restarted (unfaulted) server against acked: (number of checks made, list of losses)."""
    client = server.client()
    lost, checks = [], 0
    for fid, data in acked.files.items():
        checks += 1
        try:
            got = client.files.content(fid).read()
        except CLIENT_ERRORS as e:
            lost.append("file %s: %r" % (fid, e))
            continue
        if got != data:
            lost.append("file %s: %d bytes back instead of the %d uploaded" % (fid, len(got), len(data)))
    for jid in acked.jobs:
        checks += 1
        try:
            job = wait_terminal(client, jid, job_timeout)
        except CLIENT_ERRORS as e:
            lost.append("job %s: %r" % (jid, e))
            continue
        if job.status not in TERMINAL:
            lost.append("job %s still %s %.0f s after the restart" % (jid, job.status, job_timeout))
            continue
        if job.status == "failed":
            checks += 1
            if not (job.error and job.error.message):
                lost.append("job %s failed without an error message" % jid)
        if job.status != "succeeded":
            continue
        checks += 3
        try:
            csv = base64.b64decode(client.files.content(job.result_files[0]).read()).decode()
            steps = [int(line.split(",")[0]) for line in csv.splitlines()[1:]]
            if not csv.startswith("step,") or steps != list(range(1, len(steps) + 1)) or not steps:
                lost.append("job %s: results file with steps %s (each step once, in order, expected)" % (jid, steps))
            client.models.retrieve(job.fine_tuned_model)
            for cp in client.fine_tuning.jobs.checkpoints.list(jid, limit=100):
                checks += 1
                client.models.retrieve(cp.fine_tuned_model_checkpoint)
        except (CLIENT_ERRORS + (IndexError,)) as e:
            lost.append("job %s succeeded but: %r" % (jid, e))
    return checks, lost
