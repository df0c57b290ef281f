"""test_limits.py: the server's limits (issue 11, item 9), as the official openai SDK sees them:
with --max-queued-jobs 2, a third job of one project waiting (validating or queued) behind a
training one is refused with 429 too_many_queued_jobs and nothing is stored, while another
project's key still creates jobs (the bound is per project); with --rate-limit 20, the 21st request
of a burst from one API key is a 429 rate_limit_exceeded with Retry-After, while another key and
/health are unaffected; with --max-tokens 6, a chat asking 7 tokens (as max_tokens or
max_completion_tokens) is a 400 naming that field, and one asking none stops at 6. Plain script:
`python3 tests/e2e/test_limits.py`.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402
from serve_util import Server, stop_and_clean, chat_example, check, check_error_shape, run_tests, write_jsonl  # noqa: E402
from test_projects import new_key  # noqa: E402

BASE = "tiny-qwen2"
LONG = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 50, "batch_size": 1}}}


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-lim-")
    data = os.path.join(c.tmp, "data")
    c.other_key, _ = new_key(data, "--project", "other")
    c.server = Server(data, api_key="default-project-key", extra_args=["--max-queued-jobs", "2"]).start()
    c.client = c.server.client()
    c.path = write_jsonl(os.path.join(c.tmp, "train.jsonl"), [chat_example(i) for i in range(20)])
    return c


def teardown(c):
    stop_and_clean(c)


def test_queued_jobs_bound(c):
    with open(c.path, "rb") as f:
        fid = c.client.files.create(file=f, purpose="fine-tune").id
    first = c.client.fine_tuning.jobs.create(training_file=fid, model=BASE, method=LONG).id
    deadline = time.time() + 60
    while c.client.fine_tuning.jobs.retrieve(first).status != "running":
        check(time.time() < deadline, "the first job is not running after 60 s")
        time.sleep(0.05)
    waiting = [c.client.fine_tuning.jobs.create(training_file=fid, model=BASE).id for _ in range(2)]
    n_before = len(list(c.client.fine_tuning.jobs.list(limit=100)))
    try:
        c.client.fine_tuning.jobs.create(training_file=fid, model=BASE)
        raise AssertionError("a third waiting job was accepted with --max-queued-jobs 2")
    except openai.RateLimitError as e:
        check(e.status_code == 429 and e.code == "too_many_queued_jobs", "error %r %r" % (e.status_code, e.body))
    check(len(list(c.client.fine_tuning.jobs.list(limit=100))) == n_before, "the refused job was stored")
    # the bound is per project: another project's queue is empty
    other = c.server.client(api_key=c.other_key)
    with open(c.path, "rb") as f:
        other_fid = other.files.create(file=f, purpose="fine-tune").id
    other_jobs = [other.fine_tuning.jobs.create(training_file=other_fid, model=BASE).id for _ in range(2)]
    try:
        other.fine_tuning.jobs.create(training_file=other_fid, model=BASE)
        raise AssertionError("a third waiting job of the other project was accepted with --max-queued-jobs 2")
    except openai.RateLimitError as e:
        check(e.status_code == 429 and "per project" in e.message, "error %r %r" % (e.status_code, e.body))
    for j in other_jobs:
        other.fine_tuning.jobs.cancel(j)
    for j in [first] + waiting:
        c.client.fine_tuning.jobs.cancel(j)
    c.client.fine_tuning.jobs.create(training_file=fid, model=BASE)  # room again
    c.server.stop()


def test_rate_limit_per_key(c):
    c.server = Server(os.path.join(c.tmp, "data2"), api_key="k1", extra_args=["--api-key", "k2", "--rate-limit", "20"])
    c.server.start()
    h1, h2 = {"Authorization": "Bearer k1"}, {"Authorization": "Bearer k2"}
    statuses = [c.server.request("GET", "/v1/models", headers=h1)[0] for _ in range(20)]
    check(statuses == [200] * 20, "the first 20 requests of a burst: %s" % statuses)
    status, headers, body = c.server.request("GET", "/v1/models", headers=h1)
    check(status == 429, "request 21 of a burst with --rate-limit 20: %d" % status)
    e = check_error_shape(status, headers, body, "rate limited")
    check(e["code"] == "rate_limit_exceeded", "code %r" % e["code"])
    check(headers.get("retry-after", "").isdigit() and 1 <= int(headers["retry-after"]) <= 60,
          "Retry-After %r" % headers.get("retry-after"))
    check(c.server.request("GET", "/v1/models", headers=h2)[0] == 200, "another key was limited too")
    check(c.server.request("GET", "/health")[0] == 200, "/health was rate limited")
    time.sleep(int(headers["retry-after"]))
    check(c.server.request("GET", "/v1/models", headers=h1)[0] == 200, "still limited after Retry-After")


def test_max_tokens_bound(c):
    c.server.stop()
    c.server = Server(os.path.join(c.tmp, "data3"), extra_args=["--max-tokens", "6"]).start()
    client = c.server.client()
    msgs = [{"role": "user", "content": "Count from one to one hundred in words."}]
    for field in ("max_tokens", "max_completion_tokens"):
        try:
            client.chat.completions.create(model=BASE, messages=msgs, **{field: 7})
            raise AssertionError("%s 7 was accepted with --max-tokens 6" % field)
        except openai.BadRequestError as e:
            check(e.param == field and e.code == "invalid_value" and "--max-tokens" in e.message,
                  "error for %s 7: %r" % (field, e.body))
    r = client.chat.completions.create(model=BASE, messages=msgs, max_tokens=6, temperature=0)
    check(r.usage.completion_tokens <= 6, "max_tokens 6 gave %d tokens" % r.usage.completion_tokens)
    # without --max-tokens this greedy reply runs for hundreds of tokens (the context's end)
    r = client.chat.completions.create(model=BASE, messages=msgs, temperature=0)
    check(r.usage.completion_tokens == 6 and r.choices[0].finish_reason == "length",
          "a request asking no bound under --max-tokens 6: %d tokens, %r" % (r.usage.completion_tokens,
                                                                             r.choices[0].finish_reason))


TESTS = [test_queued_jobs_bound, test_rate_limit_per_key, test_max_tokens_bound]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
