"""test_errors.py: error handling of `ftune serve` as the official openai SDK sees it. Each bad
call must raise the SDK exception class that matches its status (400 BadRequestError, 401
AuthenticationError, 404 NotFoundError), with the code / param a client checks; invalid training
data must fail the job (status "failed", job.error filled) rather than the request; every response,
success or error, carries x-request-id. The server runs with --api-key secret.
Plain script: `python3 tests/e2e/test_errors.py`.
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402
from openai.types.chat import ChatCompletion  # noqa: E402

from serve_util import (stop_and_clean, Server, chat_example, check, check_error_shape, describe, run_tests, wait_job,  # noqa: E402
                        write_jsonl)

KEY = "secret"
BASE = "tiny-qwen2"
MSGS = [{"role": "user", "content": "What colour is item 1?"}]


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-err-")
    c.server = Server(os.path.join(c.tmp, "data"), api_key=KEY).start()
    c.client = c.server.client()
    path = write_jsonl(os.path.join(c.tmp, "good.jsonl"), [chat_example(i) for i in range(10)])
    with open(path, "rb") as f:
        c.good_file = c.client.files.create(file=f, purpose="fine-tune").id
    return c


def teardown(c):
    stop_and_clean(c)


def expect(exc_class, fn, status=None, code=None, param=None, param_contains=None, what=""):
    """Calls fn, which must raise exc_class; checks status/code/param and x-request-id; returns it."""
    try:
        r = fn()
    except exc_class as e:
        where = "%s: %s" % (what, e)
        if status is not None:
            check(e.status_code == status, "%s: status %r, expected %r" % (where, e.status_code, status))
        if code is not None:
            check(e.code == code, "%s: code %r, expected %r" % (where, e.code, code))
        if param is not None:
            check(e.param == param, "%s: param %r, expected %r" % (where, e.param, param))
        if param_contains is not None:
            check(e.param is not None and param_contains in e.param,
                  "%s: param %r should mention %r" % (where, e.param, param_contains))
        check(isinstance(e.body, dict) and all(k in e.body for k in ("message", "type", "param", "code")),
              "%s: error body %r lacks one of message/type/param/code" % (where, e.body))
        check(e.request_id, "%s: no x-request-id on the error response" % where)
        return e
    except openai.APIStatusError as e:
        raise AssertionError("%s: raised %s (HTTP %d, body %r), expected %s"
                             % (what, type(e).__name__, e.status_code, e.body, exc_class.__name__))
    raise AssertionError("%s: no error; got %r, expected %s" % (what, r, exc_class.__name__))


def upload(c, name, text):
    path = os.path.join(c.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    with open(path, "rb") as f:
        return c.client.files.create(file=f, purpose="fine-tune")


def test_wrong_api_key(c):
    bad = c.server.client(api_key="not-the-key")
    e = expect(openai.AuthenticationError, lambda: bad.models.list(), status=401, code="invalid_api_key",
               what="models.list with a wrong key")
    check(e.type in ("invalid_request_error", "authentication_error"), "type %r" % e.type)
    expect(openai.AuthenticationError, lambda: bad.files.list(), status=401, what="files.list with a wrong key")
    status, headers, body = c.server.request("GET", "/v1/models")
    check(status == 401, "GET /v1/models without Authorization: %s, expected 401" % describe(status, headers, body))
    check_error_shape(status, headers, body, "no Authorization header")
    status, headers, body = c.server.request("GET", "/v1/models", headers={"Authorization": "Basic c2VjcmV0"})
    check(status == 401, "Authorization: Basic: %s, expected 401" % describe(status, headers, body))
    status, headers, body = c.server.request("GET", "/v1/models", headers={"Authorization": "Bearer " + KEY})
    check(status == 200, "GET /v1/models with the right key: %s" % describe(status, headers, body))
    check(headers.get("x-request-id"), "no x-request-id on a 200 response")
    status, headers, body = c.server.request("GET", "/health")
    check(status == 200, "GET /health without a key: %s (health checks need no key)" % describe(status, headers, body))


def test_invalid_utf8_in_path(c):
    """An id whose bytes are not UTF-8 (%FF) gets a 404 whose body is valid JSON naming it (the body
    used to be empty: JSON cannot carry those bytes, so they become U+FFFD)."""
    conn = http.client.HTTPConnection("127.0.0.1", c.server.port, timeout=10)
    conn.request("GET", "/v1/files/file-%FF%FEx", headers={"Authorization": "Bearer " + KEY})
    r = conn.getresponse()
    body = r.read()
    check(r.status == 404, "GET /v1/files/file-%%FF%%FEx: status %d" % r.status)
    err = json.loads(body.decode("utf-8"))["error"]
    check("file-\ufffd\ufffdx" in err["message"], "message %r" % err["message"])
    check(err["param"] == "id" or err["param"] is None, "param %r" % err["param"])


def test_second_server_on_same_data(c):
    """A second ftune serve on a data directory in use exits with a clear error and leaves the first
    one serving (two servers used to train the same jobs side by side)."""
    binary = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "ftune")
    p = subprocess.run([binary, "serve", "--port", "0", "--data", c.server.data_dir, "--api-key", KEY],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode != 0, "the second server started (exit %d)" % p.returncode)
    check("in use by another ftune serve" in p.stderr, "second server's message: %r" % p.stderr)
    check(c.client.files.retrieve(c.good_file).id == c.good_file, "the first server stopped answering")


def test_missing_file(c):
    expect(openai.NotFoundError, lambda: c.client.files.retrieve("file-nope"), status=404, param="id",
           what="files.retrieve('file-nope')")
    expect(openai.NotFoundError, lambda: c.client.files.content("file-nope"), status=404,
           what="files.content('file-nope')")
    expect(openai.NotFoundError, lambda: c.client.files.delete("file-nope"), status=404,
           what="files.delete('file-nope')")


def test_job_unknown_training_file(c):
    expect(openai.BadRequestError, lambda: c.client.fine_tuning.jobs.create(training_file="file-nope", model=BASE),
           status=400, param="training_file", what="jobs.create(training_file='file-nope')")
    expect(openai.BadRequestError,
           lambda: c.client.fine_tuning.jobs.create(training_file=c.good_file, validation_file="file-nope", model=BASE),
           status=400, param="validation_file", what="jobs.create(validation_file='file-nope')")


def test_job_unknown_model(c):
    expect(openai.NotFoundError, lambda: c.client.fine_tuning.jobs.create(training_file=c.good_file,
                                                                          model="no-such-model"),
           status=404, code="model_not_found", what="jobs.create(model='no-such-model')")


def test_job_bad_role_fails(c):
    lines = [json.dumps(chat_example(i)) for i in range(12)]
    bad = chat_example(2)
    bad["messages"][1]["role"] = "usr"
    lines[2] = json.dumps(bad)
    f = upload(c, "badrole.jsonl", "\n".join(lines) + "\n")
    job = c.client.fine_tuning.jobs.create(training_file=f.id, model=BASE)
    job, seen = wait_job(c.client, job.id, timeout=60)
    check(job.status == "failed", "job on a file with a bad role on line 3 ended %r (statuses %s)" % (job.status, seen))
    err = job.error
    check(err is not None and err.code, "failed job has no error.code: %r" % err)
    check(err.param == "training_file", "error.param %r" % err.param)
    check(err.message and "line 3" in err.message, "error.message %r should mention line 3" % err.message)
    check(job.fine_tuned_model is None and job.finished_at is not None,
          "failed job: fine_tuned_model %r finished_at %r" % (job.fine_tuned_model, job.finished_at))
    events = list(c.client.fine_tuning.jobs.list_events(job.id))
    check(any(e.level == "error" for e in events),
          "no error-level event for the failed job: %s" % [(e.level, e.message) for e in events])
    c.failed_job = job.id


def test_job_nothing_to_train_fails(c):
    """Every assistant reply beyond the model's context (512 tokens for tiny-qwen2): the job fails
    with invalid_training_file instead of "succeeding" with loss 0 on no trained token."""
    long_q = "Please read this carefully. " + "The shelf holds many boxes. " * 150 + "What colour is item 1?"
    ex = {"messages": [{"role": "user", "content": long_q}, {"role": "assistant", "content": "Blue."}]}
    f = upload(c, "too-long.jsonl", "".join(json.dumps(ex) + "\n" for _ in range(10)))
    job = c.client.fine_tuning.jobs.create(training_file=f.id, model=BASE)
    job, seen = wait_job(c.client, job.id, timeout=120)
    check(job.status == "failed", "job whose replies all lie beyond the context ended %r (statuses %s)"
          % (job.status, seen))
    check(job.error is not None and job.error.code == "invalid_training_file",
          "error %r, expected code invalid_training_file" % job.error)
    check("nothing to train on" in job.error.message, "error.message %r" % job.error.message)
    check(job.trained_tokens in (None, 0), "trained_tokens %r" % job.trained_tokens)


def test_job_too_few_examples_fails(c):
    f = upload(c, "five.jsonl", "".join(json.dumps(chat_example(i)) + "\n" for i in range(5)))
    job = c.client.fine_tuning.jobs.create(training_file=f.id, model=BASE)
    job, seen = wait_job(c.client, job.id, timeout=60)
    check(job.status == "failed", "job on a 5-example file ended %r" % job.status)
    check(job.error is not None and job.error.code == "invalid_n_examples",
          "error %r, expected code invalid_n_examples" % job.error)
    check(job.error.param == "training_file", "error.param %r" % job.error.param)


def test_upload_not_jsonl(c):
    path = os.path.join(c.tmp, "notes.jsonl")
    with open(path, "w") as f:
        f.write("this is not JSON\nneither is this\n")
    with open(path, "rb") as fh:
        expect(openai.BadRequestError, lambda: c.client.files.create(file=fh, purpose="fine-tune"), status=400,
               what="upload of a non-JSONL file with purpose fine-tune")
    with open(path, "rb") as fh:
        expect(openai.BadRequestError, lambda: c.client.files.create(file=fh, purpose="no-such-purpose"), status=400,
               what="upload with purpose 'no-such-purpose'")


def test_bad_hyperparameters(c):
    for v in (0, "x", 51, -1):
        expect(openai.BadRequestError,
               lambda: c.client.fine_tuning.jobs.create(
                   training_file=c.good_file, model=BASE,
                   method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": v}}}),
               status=400, param_contains="n_epochs", what="method n_epochs=%r" % (v,))
    expect(openai.BadRequestError,
           lambda: c.client.fine_tuning.jobs.create(training_file=c.good_file, model=BASE,
                                                    hyperparameters={"n_epochs": 0}),
           status=400, param_contains="n_epochs", what="deprecated hyperparameters n_epochs=0")
    expect(openai.BadRequestError,
           lambda: c.client.fine_tuning.jobs.create(
               training_file=c.good_file, model=BASE,
               method={"type": "supervised", "supervised": {"hyperparameters": {"batch_size": 0}}}),
           status=400, param_contains="batch_size", what="batch_size=0")
    expect(openai.BadRequestError,
           lambda: c.client.fine_tuning.jobs.create(training_file=c.good_file, model=BASE, suffix="x" * 65),
           status=400, param_contains="suffix", what="suffix of 65 characters")


def test_bad_chat(c):
    expect(openai.BadRequestError,
           lambda: c.client.chat.completions.create(model=BASE, messages=MSGS, temperature=5, max_tokens=4),
           status=400, what="chat temperature=5")
    expect(openai.BadRequestError,
           lambda: c.client.post("/chat/completions", body={"model": BASE, "max_tokens": 4}, cast_to=ChatCompletion),
           status=400, what="chat without messages")
    expect(openai.BadRequestError,
           lambda: c.client.chat.completions.create(model=BASE, messages=[], max_tokens=4),
           status=400, what="chat with messages []")
    expect(openai.NotFoundError,
           lambda: c.client.chat.completions.create(model="no-such-model", messages=MSGS, max_tokens=4),
           status=404, code="model_not_found", what="chat with model 'no-such-model'")
    # a typo, and options ftune does not implement (tools other than functions), are refused by name
    # instead of ignored
    expect(openai.BadRequestError,
           lambda: c.client.chat.completions.create(model=BASE, messages=MSGS, extra_body={"max_tokn": 4}),
           status=400, code="unknown_parameter", param="max_tokn", what="chat with max_tokn")
    expect(openai.BadRequestError,
           lambda: c.client.chat.completions.create(model=BASE, messages=MSGS, max_tokens=2,
                                                    extra_body={"tools": [{"type": "file_search"}]}),
           status=400, code="unsupported_parameter", param="tools[0].type", what="chat with a file_search tool")
    # penalties and biases out of range, or a bias on a token the model does not have
    for field, value in (("frequency_penalty", 2.5), ("presence_penalty", -3), ("logit_bias", {"15": 101}),
                         ("logit_bias", {"x": 1}), ("logit_bias", [1])):
        expect(openai.BadRequestError,
               lambda: c.client.chat.completions.create(model=BASE, messages=MSGS, max_tokens=2,
                                                        extra_body={field: value}),
               status=400, param=field, what="chat with %s=%r" % (field, value))
    expect(openai.BadRequestError,
           lambda: c.client.chat.completions.create(model=BASE, messages=MSGS, max_tokens=2, logit_bias={"99999999": 1}),
           status=400, what="chat with a logit_bias on token 99999999")
    r = c.client.chat.completions.create(model=BASE, messages=MSGS, max_tokens=2, frequency_penalty=0,
                                         presence_penalty=0, logit_bias={}, user="u-1")
    check(r.choices[0].message.content is not None, "chat with neutral penalties and a user id failed")


def test_unknown_job(c):
    expect(openai.NotFoundError, lambda: c.client.fine_tuning.jobs.retrieve("ftjob-nope"), status=404,
           what="jobs.retrieve('ftjob-nope')")
    expect(openai.NotFoundError, lambda: c.client.fine_tuning.jobs.cancel("ftjob-nope"), status=404,
           what="jobs.cancel('ftjob-nope')")
    expect(openai.NotFoundError, lambda: list(c.client.fine_tuning.jobs.list_events("ftjob-nope")), status=404,
           what="jobs.list_events('ftjob-nope')")


def test_cancel_finished_job(c):
    expect(openai.BadRequestError, lambda: c.client.fine_tuning.jobs.cancel(c.failed_job), status=400,
           what="jobs.cancel of a failed job")
    job = c.client.fine_tuning.jobs.create(
        training_file=c.good_file, model=BASE,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 5}}})
    job, seen = wait_job(c.client, job.id, timeout=120)
    check(job.status == "succeeded", "1-epoch job ended %r: %r" % (job.status, job.error))
    expect(openai.BadRequestError, lambda: c.client.fine_tuning.jobs.cancel(job.id), status=400,
           what="jobs.cancel of a succeeded job")
    after = c.client.fine_tuning.jobs.retrieve(job.id)
    check(after.status == "succeeded", "status after a refused cancel: %r" % after.status)


def test_request_id_everywhere(c):
    raw = c.client.models.with_raw_response.list()
    check(raw.headers.get("x-request-id"), "models.list: no x-request-id")
    rid1 = raw.headers.get("x-request-id")
    raw = c.client.files.with_raw_response.retrieve(c.good_file)
    check(raw.headers.get("x-request-id"), "files.retrieve: no x-request-id")
    check(raw.headers.get("x-request-id") != rid1, "two responses share the x-request-id %r" % rid1)
    fobj = c.client.files.retrieve(c.good_file)
    check(fobj._request_id, "FileObject._request_id is empty")
    raw = c.client.chat.completions.with_raw_response.create(model=BASE, messages=MSGS, max_tokens=2, stream=True)
    check(raw.headers.get("x-request-id"), "a streamed chat completion has no x-request-id")
    check(raw.headers.get("content-type", "").startswith("text/event-stream"),
          "streamed chat content-type %r" % raw.headers.get("content-type"))
    chunks = list(raw.parse())
    check(chunks and chunks[-1].choices and chunks[-1].choices[0].finish_reason, "stream via with_raw_response")
    raw = c.client.files.with_raw_response.content(c.good_file)
    check(raw.headers.get("x-request-id"), "files.content: no x-request-id")
    for method, path in (("GET", "/health"), ("GET", "/metrics"), ("GET", "/v1/nope"), ("GET", "/v1/files/file-nope")):
        status, headers, body = c.server.request(method, path, headers={"Authorization": "Bearer " + KEY})
        check(headers.get("x-request-id"), "%s %s (%d): no x-request-id" % (method, path, status))
    status, headers, body = c.server.request("GET", "/v1/files", headers={"Authorization": "Bearer wrong"})
    check(status == 401 and headers.get("x-request-id"), "401 response without x-request-id")


def test_upload_expires_after(c):
    """files.create(expires_after=...): expires_at = created_at + seconds; seconds outside
    3600..2592000 (1 hour to 30 days) or an anchor other than created_at is a 400."""
    path = os.path.join(c.tmp, "good.jsonl")
    with open(path, "rb") as fh:
        f = c.client.files.create(file=fh, purpose="fine-tune", expires_after={"anchor": "created_at", "seconds": 3600})
    check(f.expires_at == f.created_at + 3600, "expires_after 3600 s: expires_at %r, created_at %r"
          % (f.expires_at, f.created_at))
    check(c.client.files.retrieve(f.id).expires_at == f.expires_at, "files.retrieve lost expires_at")
    for bad in ({"anchor": "created_at", "seconds": 100}, {"anchor": "created_at", "seconds": 2592001},
                {"anchor": "last_active_at", "seconds": 3600}):
        with open(path, "rb") as fh:
            expect(openai.BadRequestError, lambda: c.client.files.create(file=fh, purpose="fine-tune", expires_after=bad),
                   status=400, param_contains="expires_after", what="files.create(expires_after=%r)" % (bad,))


def multipart(fields, boundary="ftuneBoundary7"):
    """A multipart/form-data body of (name, filename or None, bytes) parts, and its content type."""
    out = b""
    for name, filename, data in fields:
        out += b"--" + boundary.encode() + b"\r\nContent-Disposition: form-data; name=\"" + name.encode() + b"\""
        if filename:
            out += b"; filename=\"" + filename.encode() + b"\"\r\nContent-Type: application/octet-stream"
        out += b"\r\n\r\n" + data + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n", "multipart/form-data; boundary=" + boundary


def test_openapi_odd_requests(c):
    """Issue 11, item 11: requests generated from OpenAI's OpenAPI document that were answered
    wrongly: each is refused with a 400 naming the field, or honoured."""
    msgs = [{"role": "user", "content": "Hi"}, {"role": "function", "name": "f", "content": "42"}]
    expect(openai.BadRequestError, lambda: c.client.chat.completions.create(model=BASE, messages=msgs, max_tokens=2),
           status=400, code="invalid_value", param="messages[1].role", what="chat with a role 'function' message")
    for section in ("dpo", "reinforcement"):
        expect(openai.BadRequestError,
               lambda: c.client.fine_tuning.jobs.create(
                   training_file=c.good_file, model=BASE,
                   method={"type": "supervised", "supervised": {}, section: {"hyperparameters": {"beta": 0.1}}}),
               status=400, param="method." + section, what="method type supervised with a %s section" % section)
    auth = {"Authorization": "Bearer " + KEY}
    status, headers, body = c.server.request("GET", "/v1/fine_tuning/jobs?metadata[]=x", headers=auth)
    check(status == 400, "GET jobs?metadata[]=x: %s, expected 400" % describe(status, headers, body))
    check(check_error_shape(status, headers, body, "metadata[]=x")["param"] == "metadata", "param of metadata[]=x")
    line = json.dumps(chat_example(1)).encode() + b"\n"
    for expiry, want in ((b'{"anchor": "created_at", "seconds": 7200}', 200), (b'{"anchor": "created_at"}', 400),
                         (b'{"anchor": "created_at", "seconds": 7200, "x": 1}', 400), (b"7200", 400)):
        body, ctype = multipart([("purpose", None, b"fine-tune"), ("expires_after", None, expiry),
                                 ("file", "a.jsonl", line * 10)])
        status, headers, data = c.server.request("POST", "/v1/files", body, dict(auth, **{"Content-Type": ctype}))
        check(status == want, "upload with expires_after=%s as a JSON part: %s, expected %d"
              % (expiry, describe(status, headers, data), want))
        if want == 200:
            f = json.loads(data)
            check(f["expires_at"] == f["created_at"] + 7200, "expires_after as JSON ignored: %r" % f)


TESTS = [test_wrong_api_key, test_invalid_utf8_in_path, test_second_server_on_same_data, test_missing_file, test_job_unknown_training_file, test_job_unknown_model,
         test_job_bad_role_fails, test_job_nothing_to_train_fails, test_job_too_few_examples_fails, test_upload_not_jsonl, test_bad_hyperparameters,
         test_bad_chat, test_unknown_job, test_cancel_finished_job, test_request_id_everywhere,
         test_upload_expires_after, test_openapi_odd_requests]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
