"""test_projects.py: projects, API keys and the access log (issue 11, item 10), through the official
openai SDK and raw HTTP against the real server: two projects with a key each (made with
`ftune keys create` before the server starts) and the server's own --api-key (the default
project). Project B cannot see, retrieve, read, cancel or delete project A's file, job (its events
and checkpoints) or fine-tuned model (404, never 403), nor chat with it (model_not_found), nor
train on A's file; lists show only one's own; base models are everyone's. A key created or revoked
with `ftune keys` while the server runs counts from the next request; `Bearer K\\0junk` is not K;
admin keys manage projects and keys over /v1/organization/... and nothing else. The access log
has one JSON line per request (request id as returned in x-request-id, key id, project, method,
path, status, duration) and no secret; a 5xx names its cause there while its message names no
server path. Plain script: `python3 tests/e2e/test_projects.py`.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402
from serve_util import (BINARY, ROOT, Server, chat_example, check, check_error_shape, run_tests,  # noqa: E402
                        stop_and_clean, wait_job, write_jsonl)

BASE = "tiny-qwen2"
OPERATOR_KEY = "operator-key-for-e2e"
TINY_JOB = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4}}}
LONG_JOB = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 50, "batch_size": 1}}}
LOG_FIELDS = ("time", "request_id", "key_id", "project", "method", "path", "status", "duration_ms")


class Ctx:
    pass


def keys(data_dir, *args):
    """Runs `ftune keys ARGS --data DIR`: (exit status, stdout, stderr)."""
    r = subprocess.run([BINARY, "keys"] + list(args) + ["--data", data_dir], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def new_key(data_dir, *args):
    rc, out, err = keys(data_dir, "create", *args)
    check(rc == 0, "ftune keys create %s: exit %d: %s" % (" ".join(args), rc, err))
    secret = out.strip()
    check(secret.count("\n") == 0 and secret.startswith("sk-"), "ftune keys create printed %r" % out)
    key_id = [w for w in err.split() if w.startswith("key_")][0]
    return secret, key_id


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-proj-")
    c.data = os.path.join(c.tmp, "data")
    c.key_a, c.key_a_id = new_key(c.data, "--project", "alpha", "--name", "alpha-ci")
    c.key_b, c.key_b_id = new_key(c.data, "--project", "beta")
    c.secrets = [c.key_a, c.key_b, OPERATOR_KEY]
    c.server = Server(c.data, api_key=OPERATOR_KEY).start()
    c.a = c.server.client(api_key=c.key_a)
    c.b = c.server.client(api_key=c.key_b)
    c.op = c.server.client(api_key=OPERATOR_KEY)
    c.path = write_jsonl(os.path.join(c.tmp, "train.jsonl"), [chat_example(i) for i in range(10)])
    c.request_ids = []
    return c


def teardown(c):
    stop_and_clean(c)


def not_found(fn, what, code=None):
    """fn() must raise the SDK's NotFoundError (404), with code when given."""
    try:
        fn()
    except openai.NotFoundError as e:
        check(code is None or e.code == code, "%s: code %r, expected %r" % (what, e.code, code))
        return
    except openai.APIStatusError as e:
        raise AssertionError("%s: HTTP %d, expected 404: %s" % (what, e.status_code, e.body))
    raise AssertionError("%s: succeeded for another project" % what)


def test_keys_cli(c):
    rc, out, err = keys(c.data, "list")
    check(rc == 0, "ftune keys list: %d %s" % (rc, err))
    check(c.key_a_id in out and c.key_b_id in out and "alpha-ci" in out, "keys list:\n%s" % out)
    for s in c.secrets:
        check(s not in out, "ftune keys list shows a secret")
    rc, out, err = keys(c.data, "list", "--project", "beta")
    check(rc == 0 and c.key_b_id in out and c.key_a_id not in out, "keys list --project beta:\n%s%s" % (out, err))
    rc, _, err = keys(c.data, "list", "--project", "nope")
    check(rc != 0 and "nope" in err, "an unknown project: %d %s" % (rc, err))
    rc, _, err = keys(c.data, "create")
    check(rc == 2, "keys create without --project or --admin: exit %d" % rc)
    rc, _, err = keys(c.data, "revoke", "key_unknown")
    check(rc == 2 and "key_unknown" in err, "revoking an unknown key: %d %s" % (rc, err))
    # without a key, or with a wrong one: 401 now that keys exist
    for key in ("unused", c.key_a + "x", c.key_a[:-1]):
        try:
            c.server.client(api_key=key).models.list()
            raise AssertionError("key %r was accepted" % key)
        except openai.AuthenticationError as e:
            check(e.code == "invalid_api_key", "code %r" % e.code)
    status, headers, body = c.server.request("GET", "/v1/models")
    check(status == 401, "no Authorization header: %d" % status)


def test_files_are_per_project(c):
    with open(c.path, "rb") as f:
        c.file_a = c.a.files.create(file=f, purpose="fine-tune").id
    with open(c.path, "rb") as f:
        c.file_b = c.b.files.create(file=f, purpose="fine-tune").id
    check(c.a.files.retrieve(c.file_a).id == c.file_a, "A cannot retrieve its own file")
    not_found(lambda: c.b.files.retrieve(c.file_a), "B retrieves A's file")
    not_found(lambda: c.b.files.content(c.file_a), "B reads A's file")
    not_found(lambda: c.b.files.delete(c.file_a), "B deletes A's file")
    not_found(lambda: c.op.files.retrieve(c.file_a), "the default project retrieves A's file")
    ids_a = [f.id for f in c.a.files.list()]
    ids_b = [f.id for f in c.b.files.list()]
    check(ids_a == [c.file_a], "A's list: %s" % ids_a)
    check(ids_b == [c.file_b], "B's list: %s" % ids_b)
    check([f.id for f in c.op.files.list()] == [], "the default project's list is not empty")
    # another project's file id is an unknown cursor, as an unknown file is
    try:
        c.b.files.list(after=c.file_a)
        raise AssertionError("B paged after A's file")
    except openai.BadRequestError:
        pass
    check(c.a.files.retrieve(c.file_a).id == c.file_a, "A's file is gone after B's attempts")


def test_jobs_and_models_are_per_project(c):
    try:
        c.b.fine_tuning.jobs.create(training_file=c.file_a, model=BASE, method=TINY_JOB)
        raise AssertionError("B trained on A's file")
    except openai.BadRequestError as e:
        check(e.code == "invalid_file_id", "B on A's file: code %r" % e.code)
    job = c.a.fine_tuning.jobs.create(training_file=c.file_a, model=BASE, method=TINY_JOB)
    c.job_a = job.id
    not_found(lambda: c.b.fine_tuning.jobs.retrieve(c.job_a), "B retrieves A's job", "fine_tune_not_found")
    not_found(lambda: c.b.fine_tuning.jobs.cancel(c.job_a), "B cancels A's job")
    not_found(lambda: c.b.fine_tuning.jobs.pause(c.job_a), "B pauses A's job")
    not_found(lambda: c.b.fine_tuning.jobs.list_events(c.job_a), "B lists A's job events")
    not_found(lambda: c.b.fine_tuning.jobs.checkpoints.list(c.job_a), "B lists A's job checkpoints")
    job, seen = wait_job(c.a, c.job_a, timeout=240)
    check(job.status == "succeeded", "A's job ended %s (%s): %s" % (job.status, seen, job.error))
    c.ft = job.fine_tuned_model
    check([j.id for j in c.b.fine_tuning.jobs.list()] == [], "B lists jobs of A")
    check([j.id for j in c.a.fine_tuning.jobs.list()] == [c.job_a], "A's job list")
    result = job.result_files[0]
    check(c.a.files.retrieve(result).id == result, "A cannot retrieve its job's results file")
    not_found(lambda: c.b.files.retrieve(result), "B retrieves A's results file")
    ckpts = c.a.fine_tuning.jobs.checkpoints.list(c.job_a).data
    check(ckpts, "A's job has no checkpoint")
    # the fine-tuned model and its checkpoints: A's alone
    ids_a = [m.id for m in c.a.models.list()]
    ids_b = [m.id for m in c.b.models.list()]
    check(c.ft in ids_a and BASE in ids_a, "A's models: %s" % ids_a)
    check(c.ft not in ids_b and BASE in ids_b, "B's models: %s" % ids_b)
    for model in (c.ft, ckpts[0].fine_tuned_model_checkpoint):
        not_found(lambda: c.b.models.retrieve(model), "B retrieves %s" % model, "model_not_found")
        not_found(lambda: c.b.chat.completions.create(model=model, max_tokens=2,
                                                      messages=[{"role": "user", "content": "hi"}]),
                  "B chats with %s" % model, "model_not_found")
    not_found(lambda: c.b.models.delete(c.ft), "B deletes A's model", "model_not_found")
    r = c.a.chat.completions.create(model=c.ft, max_tokens=2, messages=[{"role": "user", "content": "hi"}])
    check(r.model == c.ft, "A's chat with its model answered as %r" % r.model)
    r = c.b.chat.completions.create(model=BASE, max_tokens=2, messages=[{"role": "user", "content": "hi"}])
    check(r.choices, "B cannot chat with the base model")


def test_cancel_running_job_of_other_project(c):
    job = c.a.fine_tuning.jobs.create(training_file=c.file_a, model=BASE, method=LONG_JOB).id
    not_found(lambda: c.b.fine_tuning.jobs.cancel(job), "B cancels A's queued or running job")
    status = c.a.fine_tuning.jobs.retrieve(job).status
    check(status in ("validating_files", "queued", "running"), "A's job is %s after B's cancel" % status)
    check(c.a.fine_tuning.jobs.cancel(job).status == "cancelled", "A cannot cancel its own job")
    not_found(lambda: c.b.files.delete(c.file_a), "B deletes A's file")
    check(c.a.files.delete(c.file_a).deleted, "A cannot delete its own file")


def test_header_value_with_nul(c):
    """`Authorization: Bearer K\\0junk` is not K (raw socket: HTTP clients refuse such a header)."""
    def raw(value):
        with socket.create_connection(("127.0.0.1", c.server.port), timeout=10) as s:
            s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: " + value + b"\r\n\r\n")
            data = b""
            while True:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        return int(data.split(b" ", 2)[1]), data
    status, _ = raw(b"Bearer " + c.key_a.encode())
    check(status == 200, "the raw request with A's key: %d" % status)
    for value in (b"Bearer " + c.key_a.encode() + b"\x00junk", b"Bearer " + OPERATOR_KEY.encode() + b"\x00junk"):
        status, data = raw(value)
        check(status == 400, "%r: HTTP %d (expected 400): %r" % (value[:12], status, data[:300]))
        body = json.loads(data.split(b"\r\n\r\n", 1)[1])
        check(body["error"]["code"] == "invalid_header", "error %s" % body)
    # any header: the value is refused whole, never read up to its NUL
    status, _ = raw(b"Bearer " + c.key_a.encode() + b"\r\nX-Trace: a\x00b")
    check(status == 400, "a NUL in another header: HTTP %d" % status)
    status, _ = raw(b"Bearer " + c.key_a.encode() + b"\r\nX-Empty:")
    check(status == 200, "an empty header value: HTTP %d" % status)


def test_keys_created_and_revoked_while_running(c):
    key, key_id = new_key(c.data, "--project", "alpha")
    c.secrets.append(key)
    client = c.server.client(api_key=key)
    check([f.id for f in client.files.list()] == [f.id for f in c.a.files.list()],
          "a new key of alpha does not see alpha's files at once")
    rc, _, err = keys(c.data, "revoke", key_id)
    check(rc == 0, "ftune keys revoke: %d %s" % (rc, err))
    t0 = time.time()
    try:
        client.files.list()
        raise AssertionError("a revoked key still works")
    except openai.AuthenticationError:
        pass
    check(time.time() - t0 < 2, "the revoked key's refusal took %.1f s" % (time.time() - t0))
    rc, out, _ = keys(c.data, "list", "--project", "alpha")
    check(key_id in out and "revoked" in out, "the revoked key is not listed as revoked:\n%s" % out)
    rc, _, err = keys(c.data, "revoke", key_id)
    check(rc == 2 and "already" in err, "revoking twice: %d %s" % (rc, err))


def test_admin_api(c):
    admin, _ = new_key(c.data, "--admin")
    c.secrets.append(admin)
    hdr = {"Authorization": "Bearer " + admin}
    # admin keys manage projects and keys, nothing else; project keys do not manage
    status, headers, body = c.server.request("GET", "/v1/files", headers=hdr)
    check(status == 403, "an admin key listed files: %d" % status)
    status, headers, body = c.server.request("GET", "/v1/organization/projects",
                                             headers={"Authorization": "Bearer " + c.key_a})
    check(status == 403 and check_error_shape(status, headers, body, "project key on admin API"), "status %d" % status)
    status, _, body = c.server.request("GET", "/v1/organization/projects", headers=hdr)
    names = [p["name"] for p in json.loads(body)["data"]]
    check(status == 200 and names == ["default", "alpha", "beta"], "projects: %d %s" % (status, names))
    status, _, body = c.server.request("POST", "/v1/organization/projects", body={"name": "gamma"}, headers=hdr)
    check(status == 200, "create project: %d %s" % (status, body))
    gamma = json.loads(body)
    check(gamma["object"] == "organization.project" and gamma["id"].startswith("proj_"), "project %s" % gamma)
    status, _, body = c.server.request("POST", "/v1/organization/projects", body={"name": "gamma"},
                                       headers={"Authorization": "Bearer " + OPERATOR_KEY})
    check(status == 409, "a second project named gamma: %d" % status)
    status, _, body = c.server.request("POST", "/v1/organization/projects", body={"name": "x", "nmae": 1}, headers=hdr)
    check(status == 400, "an unknown field: %d" % status)
    path = "/v1/organization/projects/%s/api_keys" % gamma["id"]
    status, _, body = c.server.request("POST", path, body={"name": "svc"}, headers=hdr)
    check(status == 200, "create key: %d %s" % (status, body))
    made = json.loads(body)
    c.secrets.append(made["value"])
    check(made["redacted_value"].endswith(made["value"][-4:]) and made["value"] not in made["redacted_value"],
          "key %s" % made)
    gamma_client = c.server.client(api_key=made["value"])
    check([f.id for f in gamma_client.files.list()] == [], "gamma's key sees files")
    status, _, body = c.server.request("GET", path, headers=hdr)
    listed = json.loads(body)
    check(status == 200 and [k["id"] for k in listed["data"]] == [made["id"]] and "value" not in listed["data"][0],
          "gamma's keys: %s" % listed)
    status, _, body = c.server.request("GET", "/v1/organization/projects/%s/api_keys/%s" % (gamma["id"], c.key_a_id),
                                       headers=hdr)
    check(status == 404, "alpha's key under gamma: %d" % status)
    status, _, body = c.server.request("DELETE", "%s/%s" % (path, made["id"]), headers=hdr)
    check(status == 200 and json.loads(body)["deleted"] is True, "delete key: %d %s" % (status, body))
    try:
        gamma_client.files.list()
        raise AssertionError("a deleted key still works")
    except openai.AuthenticationError:
        pass
    status, _, body = c.server.request("GET", path, headers=hdr)
    check(json.loads(body)["data"] == [], "the deleted key is still listed: %s" % body)


def test_server_error_names_no_path(c):
    with open(c.path, "rb") as f:
        fid = c.b.files.create(file=f, purpose="fine-tune").id
    os.remove(os.path.join(c.data, "files", fid))  # the blob is gone: reading it is the server's failure
    status, headers, body = c.server.request("GET", "/v1/files/%s/content" % fid,
                                             headers={"Authorization": "Bearer " + c.key_b})
    check(status == 500, "content of a file whose blob is gone: %d" % status)
    e = check_error_shape(status, headers, body, "500")
    check(c.tmp not in e["message"] and "/files/" not in e["message"], "the 500 names a server path: %s" % e["message"])
    check(headers["x-request-id"] in e["message"], "the 500 does not give its request id: %s" % e["message"])
    c.error_request = headers["x-request-id"]


def test_access_log(c):
    status, headers, _ = c.server.request("GET", "/v1/files/file-nope", headers={"Authorization": "Bearer " + c.key_b})
    rid = headers["x-request-id"]
    time.sleep(0.3)  # the line is written when the response is done
    with open(os.path.join(c.data, "access.log")) as f:
        text = f.read()
    for s in c.secrets:
        check(s not in text, "the access log holds a secret")
    lines = [json.loads(line) for line in text.splitlines()]
    check(len(lines) >= 60, "only %d lines in the access log" % len(lines))
    for line in lines:
        for k in LOG_FIELDS:
            check(k in line, "access log line without %r: %s" % (k, line))
        check(line["request_id"].startswith("req_") and isinstance(line["duration_ms"], (int, float)),
              "line %s" % line)
    by_id = {line["request_id"]: line for line in lines}
    check(len(by_id) == len(lines), "request ids repeat in the access log")
    mine = by_id.get(rid)
    check(mine is not None, "no line for request %s" % rid)
    check(mine["key_id"] == c.key_b_id and mine["project"].startswith("proj_") and mine["method"] == "GET"
          and mine["path"] == "/v1/files/file-nope" and mine["status"] == 404, "line %s" % mine)
    check(any(line["status"] == 401 and line["key_id"] is None for line in lines), "no 401 line without a key")
    check(any(line["key_id"] == "serve-key-1" and line["project"] == "proj_default" for line in lines),
          "no line of the --api-key key in the default project")
    err = by_id.get(c.error_request)
    check(err is not None and err["status"] == 500 and "No such file" in err.get("error", ""),
          "the 500's line has no cause: %s" % err)
    check(all(("error" in line) == (line["status"] >= 500) for line in lines), "an error field on a non-5xx line")


TESTS = [test_keys_cli, test_files_are_per_project, test_jobs_and_models_are_per_project,
         test_cancel_running_job_of_other_project, test_header_value_with_nul,
         test_keys_created_and_revoked_while_running, test_admin_api, test_server_error_names_no_path,
         test_access_log]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
