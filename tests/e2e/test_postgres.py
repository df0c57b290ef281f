"""test_postgres.py: `ftune serve --database postgresql://...` end to end with the official SDK, on a
throwaway PostgreSQL cluster (tests/pg_cluster.sh): upload a file, fine-tune tiny-qwen2 on it, chat
with the fine-tuned model; the data directory holds the blob and the job's directory but no
ftune.db (the records are in PostgreSQL); after a restart on the same database the file, the job
and every one of its events are still there and the model still answers; a vector store (its
chunks' full-text part through PostgreSQL's tsvector) finds a rare product code's file and the
nearest file of a question, before and after the restart (with models/all-MiniLM-L6-v2). Skipped (exit 0, with a
message) where the PostgreSQL server binaries are absent; scripts/setup.sh installs them.
Plain script: `python3 tests/e2e/test_postgres.py`.
"""
import io
import os
import time
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import (MODELS, ROOT, Server, chat_example, check, pg_available, pg_start, pg_stop, run_tests,  # noqa: E402
                        stop_and_clean, wait_job, write_jsonl)

BASE = "tiny-qwen2"


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-pg-")
    c.url, c.pg_dir = pg_start()
    c.data_dir = os.path.join(c.tmp, "data")
    c.server = Server(c.data_dir, extra_args=["--database", c.url]).start()
    c.client = c.server.client()
    return c


def teardown(c):
    if c is None:
        return
    stop_and_clean(c)
    pg_stop(c.pg_dir)


def test_fine_tune_and_chat(c):
    path = write_jsonl(os.path.join(c.tmp, "train.jsonl"), [chat_example(i) for i in range(12)])
    with open(path, "rb") as f:
        c.file_id = c.client.files.create(file=f, purpose="fine-tune").id
    hp = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}}
    job = c.client.fine_tuning.jobs.create(training_file=c.file_id, model=BASE, suffix="pg", method=hp, seed=3)
    job, seen = wait_job(c.client, job.id, timeout=300)
    check(job.status == "succeeded", "job ended %r: %r (statuses %s)" % (job.status, job.error, seen))
    c.job_id, c.model = job.id, job.fine_tuned_model
    c.events = [e.id for e in c.client.fine_tuning.jobs.list_events(c.job_id, limit=100)]
    check(len(c.events) >= 3, "events %s" % c.events)
    r = c.client.chat.completions.create(model=c.model, messages=[{"role": "user", "content": "What colour is item 3?"}],
                                         max_tokens=8, temperature=0)
    check(r.choices[0].message.content, "empty reply from %s" % c.model)
    c.reply = r.choices[0].message.content
    # blobs and job directories in the data directory; the records are not
    check(os.path.exists(os.path.join(c.data_dir, "files", c.file_id)), "no blob for %s" % c.file_id)
    check(os.path.isdir(os.path.join(c.data_dir, "jobs", c.job_id)), "no job directory for %s" % c.job_id)
    check(not os.path.exists(os.path.join(c.data_dir, "ftune.db")), "ftune.db made beside --database")


VS_DOCS = {"router.txt": "The ZX-4471 router resets when its button is held for ten seconds.",
           "cards.txt": "A lost or stolen card can be frozen in the app and replaced within five days.",
           "cats.txt": "Cats sleep up to sixteen hours a day and purr when they are content."}


def vs_search_first(c, query):
    return c.client.vector_stores.search(c.vs_id, query=query, max_num_results=2).data[0].filename


def test_vector_store(c):
    if not os.path.isfile(os.path.join(MODELS, "all-MiniLM-L6-v2", "model.safetensors")):
        print("    (no all-MiniLM-L6-v2: vector store part skipped)")
        c.vs_id = None
        return
    ids = [c.client.files.create(file=(n, io.BytesIO(t.encode())), purpose="assistants").id for n, t in VS_DOCS.items()]
    c.vs_id = c.client.vector_stores.create(name="pg", file_ids=ids).id
    deadline = time.time() + 120
    while c.client.vector_stores.retrieve(c.vs_id).status != "completed":
        check(time.time() < deadline, "the vector store is still in progress")
        time.sleep(0.1)
    check(vs_search_first(c, "ZX-4471") == "router.txt", "the rare code did not find its file")
    check(vs_search_first(c, "my credit card was stolen") == "cards.txt", "the question did not find its file")


def test_restart_keeps_everything(c):
    c.server.stop()
    c.server.start()
    job = c.client.fine_tuning.jobs.retrieve(c.job_id)
    check(job.status == "succeeded" and job.fine_tuned_model == c.model, "after restart: %r %r" % (job.status, job.fine_tuned_model))
    events = [e.id for e in c.client.fine_tuning.jobs.list_events(c.job_id, limit=100)]
    check(events == c.events, "events after restart %s != %s" % (events, c.events))
    check(c.client.files.retrieve(c.file_id).id == c.file_id, "file lost")
    r = c.client.chat.completions.create(model=c.model, messages=[{"role": "user", "content": "What colour is item 3?"}],
                                         max_tokens=8, temperature=0)
    check(r.choices[0].message.content == c.reply, "reply after restart %r != %r" % (r.choices[0].message.content, c.reply))
    if c.vs_id:
        check(vs_search_first(c, "how long do cats sleep") == "cats.txt", "the vector store after a restart")


if __name__ == "__main__":
    if not pg_available():
        print("skipped: no PostgreSQL server binaries (scripts/setup.sh installs the postgresql package)")
        sys.exit(0)
    run_tests([test_fine_tune_and_chat, test_vector_store, test_restart_keeps_everything], setup, teardown)
