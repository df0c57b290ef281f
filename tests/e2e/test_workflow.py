"""test_workflow.py: the user's fine-tuning workflow against the real `ftune serve`, written the
way a user writes it with the official openai SDK (only base_url changes): validate locally,
upload, wait for processing, create a job, poll it, read events / checkpoints / the results file,
list and chat with the fine-tuned model (plain and streaming, checkpoint and base models, 16 at
once), cancel a running job, page through lists, then delete the model and the file. The tests share one server and run in order; the first failure
stops the run. Plain script: `python3 tests/e2e/test_workflow.py`.
"""
import base64
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402

from serve_util import stop_and_clean, Server, chat_example, check, run_tests, run_validate, wait_job, write_jsonl  # noqa: E402

BASE = "tiny-qwen2"
N_EXAMPLES = 20
EPOCHS = 3
BATCH = 4
STEPS_PER_EPOCH = (N_EXAMPLES + BATCH - 1) // BATCH
FT_RE = re.compile(r"^ft:tiny-qwen2:ftune:e2e:[A-Za-z0-9]{8}$")
MESSAGES = [{"role": "system", "content": "You answer questions about item colours."},
            {"role": "user", "content": "What colour is item 3?"}]


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-wf-")
    c.server = Server(os.path.join(c.tmp, "data")).start()
    c.client = c.server.client()
    c.path = write_jsonl(os.path.join(c.tmp, "train.jsonl"), [chat_example(i) for i in range(N_EXAMPLES)])
    with open(c.path, "rb") as f:
        c.data = f.read()
    return c


def teardown(c):
    rc = stop_and_clean(c)
    if rc not in (0, None, -15):
        print("note: ftune serve exited with status %s on SIGTERM" % rc)


def test_validate_locally(c):
    rc, out = run_validate(c.path)
    check(rc == 0, "ftune validate %s exited %d:\n%s" % (c.path, rc, out))


def test_upload(c):
    client = c.client
    with open(c.path, "rb") as f:
        up = client.files.create(file=f, purpose="fine-tune")
    check(up.id.startswith("file-"), "file id %r does not start with file-" % up.id)
    check(up.object == "file", "file object %r" % up.object)
    check(up.bytes == len(c.data), "bytes %r != %d" % (up.bytes, len(c.data)))
    check(up.filename == "train.jsonl", "filename %r" % up.filename)
    check(up.purpose == "fine-tune", "purpose %r" % up.purpose)
    check(isinstance(up.created_at, int), "created_at %r" % up.created_at)
    t0 = time.time()
    f2 = client.files.wait_for_processing(up.id)
    check(f2.status == "processed", "status after wait_for_processing: %r" % f2.status)
    check(time.time() - t0 < 2.0, "wait_for_processing took %.1f s: status should be 'processed' at once"
          % (time.time() - t0))
    c.file_id = up.id


def test_file_content_and_list(c):
    client = c.client
    got = client.files.content(c.file_id).read()
    check(got == c.data, "downloaded training file differs from the upload (%d vs %d bytes)" % (len(got), len(c.data)))
    ids = [f.id for f in client.files.list(purpose="fine-tune")]
    check(c.file_id in ids, "files.list(purpose='fine-tune') lacks %s: %s" % (c.file_id, ids))
    r = client.files.retrieve(c.file_id)
    check(r.id == c.file_id and r.status == "processed", "files.retrieve: %r" % r)


def test_create_job_and_wait(c):
    client = c.client
    job = client.fine_tuning.jobs.create(
        training_file=c.file_id, model=BASE, suffix="e2e",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": EPOCHS, "batch_size": BATCH}}},
        seed=7, metadata={"team": "qa"})
    check(job.id.startswith("ftjob-"), "job id %r" % job.id)
    check(job.object == "fine_tuning.job", "job object %r" % job.object)
    check(job.status in ("validating_files", "queued", "running"), "status at creation %r" % job.status)
    check(job.model == BASE, "job model %r" % job.model)
    check(job.training_file == c.file_id, "training_file %r" % job.training_file)
    check(job.fine_tuned_model is None, "fine_tuned_model at creation %r" % job.fine_tuned_model)
    check(job.result_files == [], "result_files at creation %r" % (job.result_files,))
    c.job_id = job.id
    created_status = job.status
    job, seen = wait_job(client, job.id, timeout=300, interval=0.5)
    c.seen = seen if seen[0] == created_status else [created_status] + seen
    check(job.status == "succeeded", "job ended %r (statuses %s), error %r" % (job.status, seen, job.error))
    c.job = job


def test_job_fields(c):
    job = c.job
    # A 15-step job on the tiny model can pass through "running" between two polls (0.5 s apart);
    # then the events (checked below) prove that it ran. Set FTUNE_E2E_STRICT=1 to require it.
    if os.environ.get("FTUNE_E2E_STRICT"):
        check("running" in c.seen, "status path %s lacks running" % c.seen)
    elif "running" not in c.seen:
        print("note: 'running' not seen between polls (statuses %s)" % c.seen)
    for s in c.seen:
        check(s in ("validating_files", "queued", "running", "succeeded"), "unexpected status %r in %s" % (s, c.seen))
    check(job.id.startswith("ftjob-") and job.object == "fine_tuning.job", "id/object %r %r" % (job.id, job.object))
    check(isinstance(job.fine_tuned_model, str) and FT_RE.match(job.fine_tuned_model),
          "fine_tuned_model %r does not match %s" % (job.fine_tuned_model, FT_RE.pattern))
    check(job.organization_id == "org-ftune", "organization_id %r" % job.organization_id)
    hp = job.hyperparameters
    check(hp is not None, "hyperparameters is null")
    check(hp.n_epochs == EPOCHS, "hyperparameters.n_epochs %r" % hp.n_epochs)
    check(hp.batch_size == BATCH, "hyperparameters.batch_size %r" % hp.batch_size)
    check(isinstance(hp.learning_rate_multiplier, (int, float)) and not isinstance(hp.learning_rate_multiplier, bool),
          "hyperparameters.learning_rate_multiplier %r is not a number" % hp.learning_rate_multiplier)
    if job.method is not None:
        check(job.method.type == "supervised", "method.type %r" % job.method.type)
    check(isinstance(job.trained_tokens, int) and job.trained_tokens > 0, "trained_tokens %r" % job.trained_tokens)
    check(isinstance(job.finished_at, int) and job.finished_at >= job.created_at,
          "finished_at %r (created_at %r)" % (job.finished_at, job.created_at))
    check(job.seed == 7, "seed %r" % job.seed)
    check(isinstance(job.result_files, list) and len(job.result_files) == 1, "result_files %r" % (job.result_files,))
    err = job.error
    check(err is None or (err.code is None and err.message is None and err.param is None),
          "error on a succeeded job: %r" % err)
    check(job.metadata == {"team": "qa"}, "metadata %r" % job.metadata)
    check(job.training_file == c.file_id and job.validation_file is None,
          "training_file %r validation_file %r" % (job.training_file, job.validation_file))
    c.ft = job.fine_tuned_model
    # the job is in the jobs list too, filterable by metadata
    ids = [j.id for j in c.client.fine_tuning.jobs.list(limit=10)]
    check(job.id in ids, "jobs.list lacks %s: %s" % (job.id, ids))
    ids = [j.id for j in c.client.fine_tuning.jobs.list(metadata={"team": "qa"})]
    check(ids == [job.id], "jobs.list(metadata={'team':'qa'}) gave %s" % ids)


def test_events(c):
    client = c.client
    events = [e for e in client.fine_tuning.jobs.list_events(c.job_id, limit=5)]
    check(len(events) >= 7, "only %d events" % len(events))
    ids = [e.id for e in events]
    check(len(set(ids)) == len(ids), "event ids repeat (pagination by `after` broken?): %s" % ids)
    for e in events:
        check(e.id.startswith("ftevent-"), "event id %r" % e.id)
        check(e.object == "fine_tuning.job.event", "event object %r" % e.object)
        check(isinstance(e.created_at, int), "event created_at %r" % e.created_at)
        check(e.level in ("info", "warn", "error"), "event level %r" % e.level)
    times = [e.created_at for e in events]
    check(times == sorted(times, reverse=True), "events are not newest first: %s" % times)
    ev = list(reversed(events))
    msgs = [e.message for e in ev]
    want_head = ["Created fine-tuning job: %s" % c.job_id,
                 "Validating training file: %s" % c.file_id,
                 "Files validated, moving job to queued state",
                 "Fine-tuning job started"]
    check(msgs[:4] == want_head, "first events (oldest first) %s, expected %s" % (msgs[:4], want_head))
    check(msgs[4].startswith("Training precision: fp32") or msgs[4].startswith("Training precision: bf16"),
          "fifth event %r: the precision the job trains at" % msgs[4])
    check(msgs[-1] == "The job has successfully completed", "last event %r" % msgs[-1])
    check("New fine-tuned model created: %s" % c.ft in msgs, "no 'New fine-tuned model created: %s' in %s"
          % (c.ft, msgs))
    metrics = [e for e in ev if e.type == "metrics"]
    check(metrics, "no metrics events in %s" % msgs)
    total = EPOCHS * STEPS_PER_EPOCH
    for e in metrics:
        d = e.data
        check(isinstance(d, dict) and all(k in d for k in ("step", "train_loss", "total_steps")),
              "metrics event data %r" % d)
        check(d["total_steps"] == total, "metrics total_steps %r, expected %d" % (d["total_steps"], total))
        check(e.message.startswith("Step %d/%d" % (d["step"], total)), "metrics message %r" % e.message)
    check(metrics[0].message.startswith("Step 1/"), "first metrics message %r" % metrics[0].message)
    steps = [e.data["step"] for e in metrics]
    check(steps == sorted(steps) and len(set(steps)) == len(steps), "metrics steps not increasing: %s" % steps)
    check(steps[-1] == total, "last metrics step %r, expected %d" % (steps[-1], total))
    c.total_steps = total
    first_metric = msgs.index(metrics[0].message)
    check(first_metric > 3, "metrics before 'Fine-tuning job started'")
    check(msgs.index("New fine-tuned model created: %s" % c.ft) > msgs.index(metrics[-1].message),
          "model created before the last metrics event")


def test_checkpoints(c):
    cps = [cp for cp in c.client.fine_tuning.jobs.checkpoints.list(c.job_id, limit=1)]
    check(len(cps) == EPOCHS, "%d checkpoints, expected %d (one per epoch): %s"
          % (len(cps), EPOCHS, [cp.id for cp in cps]))
    steps = [cp.step_number for cp in cps]
    check(steps == sorted(steps, reverse=True), "checkpoints not newest (highest step) first: %s" % steps)
    check(steps == [STEPS_PER_EPOCH * e for e in range(EPOCHS, 0, -1)], "checkpoint steps %s" % steps)
    ids = [cp.id for cp in cps]
    check(len(set(ids)) == len(ids), "checkpoint ids repeat: %s" % ids)
    for cp in cps:
        check(cp.id.startswith("ftckpt_"), "checkpoint id %r" % cp.id)
        check(cp.object == "fine_tuning.job.checkpoint", "checkpoint object %r" % cp.object)
        check(cp.fine_tuning_job_id == c.job_id, "checkpoint job id %r" % cp.fine_tuning_job_id)
        check(cp.fine_tuned_model_checkpoint == "%s:ckpt-step-%d" % (c.ft, cp.step_number),
              "fine_tuned_model_checkpoint %r (step %d)" % (cp.fine_tuned_model_checkpoint, cp.step_number))
        m = cp.metrics
        check(m is not None and m.step == cp.step_number, "checkpoint metrics %r" % m)
        check(isinstance(cp.created_at, int), "checkpoint created_at %r" % cp.created_at)
    c.ckpt_model = cps[-1].fine_tuned_model_checkpoint  # the oldest one: not the same weights as ft


def test_results_file(c):
    client = c.client
    rid = c.job.result_files[0]
    rf = client.files.retrieve(rid)
    check(rf.purpose == "fine-tune-results", "results file purpose %r" % rf.purpose)
    raw = client.files.content(rid).read()
    try:
        csv = base64.b64decode(raw, validate=True).decode()
    except Exception as e:  # noqa: BLE001
        raise AssertionError("results file content is not base64 (%s): %r" % (e, raw[:120]))
    lines = csv.strip().splitlines()
    check(lines[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy",
          "results CSV header %r" % lines[0])
    rows = [ln.split(",") for ln in lines[1:]]
    check(len(rows) == c.total_steps,
          "results CSV has %d rows, expected %d (one per step)" % (len(rows), c.total_steps))
    for i, r in enumerate(rows):
        check(len(r) == 5 and int(r[0]) == i + 1, "results CSV row %d: %r" % (i + 1, r))
        float(r[1])
    ids = [f.id for f in client.files.list(purpose="fine-tune-results")]
    check(rid in ids, "files.list(purpose='fine-tune-results') lacks %s" % rid)


def test_models_list(c):
    client = c.client
    models = {m.id: m for m in client.models.list()}
    for mid in (BASE, c.ft):
        check(mid in models, "models.list lacks %r: %s" % (mid, sorted(models)))
        m = models[mid]
        check(m.object == "model", "model object %r" % m.object)
        check(isinstance(m.created, int), "model created %r" % m.created)
        check(isinstance(m.owned_by, str) and m.owned_by, "model owned_by %r" % m.owned_by)
    m = client.models.retrieve(c.ft)
    check(m.id == c.ft and m.object == "model", "models.retrieve(ft): %r" % m)


def test_chat(c):
    client = c.client
    r = client.chat.completions.create(model=c.ft, messages=MESSAGES, max_tokens=8, temperature=0)
    check(r.object == "chat.completion", "object %r" % r.object)
    check(r.id.startswith("chatcmpl-"), "id %r" % r.id)
    check(isinstance(r.created, int), "created %r" % r.created)
    check(r.model == c.ft, "model %r" % r.model)
    check(len(r.choices) == 1, "%d choices" % len(r.choices))
    ch = r.choices[0]
    check(ch.index == 0, "choice index %r" % ch.index)
    check(ch.message.role == "assistant", "role %r" % ch.message.role)
    check(isinstance(ch.message.content, str), "content %r" % ch.message.content)
    check(ch.finish_reason in ("stop", "length"), "finish_reason %r" % ch.finish_reason)
    u = r.usage
    check(u.prompt_tokens > 0, "prompt_tokens %r" % u.prompt_tokens)
    check(0 <= u.completion_tokens <= 8, "completion_tokens %r" % u.completion_tokens)
    check(u.total_tokens == u.prompt_tokens + u.completion_tokens, "total_tokens %r" % u.total_tokens)
    c.content = ch.message.content
    r2 = client.chat.completions.create(model=c.ft, messages=MESSAGES, max_tokens=8, temperature=0)
    check(r2.choices[0].message.content == c.content, "greedy decoding differs between two calls: %r vs %r"
          % (c.content, r2.choices[0].message.content))


def test_chat_stream(c):
    stream = c.client.chat.completions.create(model=c.ft, messages=MESSAGES, max_tokens=8, temperature=0,
                                              stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    check(chunks, "no chunks")
    for ch in chunks:
        check(ch.object == "chat.completion.chunk", "chunk object %r" % ch.object)
        check(ch.id.startswith("chatcmpl-"), "chunk id %r" % ch.id)
    check(len({ch.id for ch in chunks}) == 1, "chunk ids differ within one stream")
    first = chunks[0]
    check(first.choices and first.choices[0].delta.role == "assistant", "first chunk has no role: %r" % first)
    last = chunks[-1]
    check(last.choices == [] and last.usage is not None, "last chunk should have choices [] and usage: %r" % last)
    check(last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens, "usage %r" % last.usage)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    check(text == c.content, "streamed text %r differs from the non-streamed %r" % (text, c.content))
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    check(len(finishes) == 1 and finishes[0] in ("stop", "length"), "finish reasons in stream: %s" % finishes)
    for ch in chunks[:-1]:
        check(ch.usage is None, "usage on a non-final chunk: %r" % ch)


def test_chat_checkpoint_base_and_n(c):
    client = c.client
    r = client.chat.completions.create(model=c.ckpt_model, messages=MESSAGES, max_tokens=8, temperature=0)
    check(r.choices[0].message.role == "assistant" and isinstance(r.choices[0].message.content, str),
          "checkpoint model chat: %r" % r)
    r = client.chat.completions.create(model=BASE, messages=MESSAGES, max_tokens=8, temperature=0)
    check(r.choices[0].message.role == "assistant" and isinstance(r.choices[0].message.content, str),
          "base model chat: %r" % r)
    check(r.model == BASE, "base chat model %r" % r.model)
    r = client.chat.completions.create(model=c.ft, messages=MESSAGES, max_tokens=8, temperature=0.8, n=2, seed=1)
    check(len(r.choices) == 2, "n=2 gave %d choices" % len(r.choices))
    check(sorted(ch.index for ch in r.choices) == [0, 1], "choice indexes %s" % [ch.index for ch in r.choices])
    check(r.usage.completion_tokens <= 16, "n=2 completion_tokens %r" % r.usage.completion_tokens)


def test_concurrent_chats(c):
    """16 greedy chats at once, alternating the fine-tuned, checkpoint and base models and two
    prompts: each answer equals the one the same request gets alone (no state shared between
    concurrent requests, the right adapter for each)."""
    import threading
    prompts = [MESSAGES, [{"role": "user", "content": "Tell me about item 12, please."}]]
    models = [c.ft, c.ckpt_model, BASE]
    combos = [(m, p) for m in models for p in range(len(prompts))]
    alone = {}
    for m, p in combos:
        r = c.client.chat.completions.create(model=m, messages=prompts[p], max_tokens=12, temperature=0)
        alone[(m, p)] = r.choices[0].message.content
    results, errors = {}, []

    def one(i):
        m, p = combos[i % len(combos)]
        try:
            if i % 2:
                st = c.client.chat.completions.create(model=m, messages=prompts[p], max_tokens=12, temperature=0,
                                                      stream=True)
                text = "".join(ch.choices[0].delta.content or "" for ch in st if ch.choices)
            else:
                r = c.client.chat.completions.create(model=m, messages=prompts[p], max_tokens=12, temperature=0)
                text = r.choices[0].message.content
            results[i] = (m, p, text)
        except Exception as e:  # noqa: BLE001
            errors.append("request %d (%s): %r" % (i, m, e))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(not errors, "concurrent chats failed: %s" % errors[:3])
    check(len(results) == len(threads), "only %d of %d concurrent chats answered within 120 s"
          % (len(results), len(threads)))
    for i, (m, p, text) in sorted(results.items()):
        check(text == alone[(m, p)], "concurrent request %d on %s answered %r; alone it answers %r"
              % (i, m, text, alone[(m, p)]))
    check(len(set(alone.values())) > 1, "the fine-tuned, checkpoint and base models all answer the same: %s" % alone)


def test_cancel_running_job(c):
    client = c.client
    job = client.fine_tuning.jobs.create(
        training_file=c.file_id, model=BASE, suffix="cancelme",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 50, "batch_size": 1}}})
    deadline = time.time() + 60
    while client.fine_tuning.jobs.retrieve(job.id).status != "running":
        check(time.time() < deadline, "the job to cancel is not running after 60 s")
        time.sleep(0.05)
    r = client.fine_tuning.jobs.cancel(job.id)
    check(r.id == job.id and r.object == "fine_tuning.job", "jobs.cancel returned %r" % r)
    check(r.status == "cancelled", "jobs.cancel of a running job returned status %r, expected cancelled" % r.status)
    time.sleep(1.0)
    j = client.fine_tuning.jobs.retrieve(job.id)
    check(j.status == "cancelled", "status %r after cancel (the worker must not overwrite it)" % j.status)
    check(j.fine_tuned_model is None, "a cancelled job has fine_tuned_model %r" % j.fine_tuned_model)
    check(j.finished_at is None or isinstance(j.finished_at, int), "finished_at %r" % j.finished_at)
    # the queue goes on: a job created after the cancel runs
    j2 = client.fine_tuning.jobs.create(
        training_file=c.file_id, model=BASE,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": BATCH}}})
    j2, seen = wait_job(client, j2.id, timeout=120)
    check(j2.status == "succeeded", "job after a cancel ended %r: %r" % (j2.status, j2.error))
    check(j2.fine_tuned_model and j2.fine_tuned_model.startswith("ft:tiny-qwen2:ftune::"),
          "fine_tuned_model without suffix %r, expected ft:tiny-qwen2:ftune::<8 alnum>" % j2.fine_tuned_model)
    check(j2.hyperparameters.n_epochs == 1 and j2.seed is not None and isinstance(j2.seed, int),
          "job without seed: seed %r" % j2.seed)


def test_pagination(c):
    client = c.client
    jobs = [j.id for j in client.fine_tuning.jobs.list(limit=1)]
    check(len(jobs) == len(set(jobs)) and len(jobs) >= 3, "jobs.list(limit=1) auto-paginated: %s" % jobs)
    check(jobs[-1] == c.job_id, "jobs are not newest first: %s (first job %s)" % (jobs, c.job_id))
    files = [f.id for f in client.files.list(limit=1)]
    check(len(files) == len(set(files)) and c.file_id in files, "files.list(limit=1) auto-paginated: %s" % files)
    first = client.files.list(limit=1)
    check(first.has_more is True and len(first.data) == 1, "files.list(limit=1): has_more %r, %d items"
          % (first.has_more, len(first.data)))
    asc = [f.id for f in client.files.list(order="asc")]
    check(asc == list(reversed([f.id for f in client.files.list(order="desc")])), "files order asc/desc")


def test_delete_model_and_file(c):
    client = c.client
    d = client.models.delete(c.ft)
    check(d.deleted is True and d.id == c.ft, "models.delete: %r" % d)
    try:
        client.models.retrieve(c.ft)
        raise AssertionError("models.retrieve of a deleted model did not raise")
    except openai.NotFoundError:
        pass
    try:
        client.chat.completions.create(model=c.ft, messages=MESSAGES, max_tokens=8)
        raise AssertionError("chat with a deleted model did not raise")
    except openai.NotFoundError as e:
        check(e.code == "model_not_found", "chat with a deleted model: code %r (body %r)" % (e.code, e.body))
    ids = [m.id for m in client.models.list()]
    check(c.ft not in ids, "deleted model still listed")
    d = client.files.delete(c.file_id)
    check(d.deleted is True and d.id == c.file_id, "files.delete: %r" % d)
    try:
        client.files.retrieve(c.file_id)
        raise AssertionError("files.retrieve of a deleted file did not raise")
    except openai.NotFoundError:
        pass


TESTS = [test_validate_locally, test_upload, test_file_content_and_list, test_create_job_and_wait, test_job_fields,
         test_events, test_checkpoints, test_results_file, test_models_list, test_chat, test_chat_stream,
         test_chat_checkpoint_base_and_n, test_concurrent_chats, test_cancel_running_job, test_pagination,
         test_delete_model_and_file]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
