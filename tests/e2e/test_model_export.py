"""test_model_export.py: GET /v1/models/{model}/export?format=gguf|peft (an ftune extension) against
the real server. Project A fine-tunes stories260K (a Llama model: the adapter GGUF's q/k rows are
permuted); A downloads the fine-tuned model and a checkpoint as a LoRA adapter GGUF, byte-identical
to `ftune export --format gguf` of the job's adapter directory and read by PyPI gguf as an adapter,
and as a PEFT tar (Python's tarfile) holding the job's adapter files unchanged; an --adapter model
(everyone's) downloads for project B too. Project B gets 404
for A's models (as for every other model route), a base model 400 model_not_exportable, a missing
or unknown format 400, an unknown query parameter 400, no key 401. Plain script:
`python3 tests/e2e/test_model_export.py`.
"""
import io
import os
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import (BINARY, ROOT, Server, chat_example, check, check_error_shape, run_tests,  # noqa: E402
                        stop_and_clean, wait_job, write_jsonl)

BASE = "stories260K"
TINY_JOB = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4}}}


class Ctx:
    pass


def new_key(data_dir, project):
    r = subprocess.run([BINARY, "keys", "create", "--project", project, "--data", data_dir], cwd=ROOT,
                       capture_output=True, text=True)
    check(r.returncode == 0, "ftune keys create: %s" % r.stderr)
    return r.stdout.strip()


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-export-")
    c.data = os.path.join(c.tmp, "data")
    c.key_a, c.key_b = new_key(c.data, "alpha"), new_key(c.data, "beta")
    c.adapter_dir = os.path.join(ROOT, "tests", "golden", "gguf_export", "adapter")
    c.server = Server(c.data, extra_args=["--adapter", "toys=%s@%s" % (c.adapter_dir, BASE)]).start()
    c.a = c.server.client(api_key=c.key_a)
    return c


def teardown(c):
    stop_and_clean(c)


def get(c, model, query, key):
    headers = {"Authorization": "Bearer " + key} if key else {}
    return c.server.request("GET", "/v1/models/%s/export%s" % (model, query), headers=headers)


def test_fine_tune(c):
    path = write_jsonl(os.path.join(c.tmp, "train.jsonl"), [chat_example(i) for i in range(10)])
    f = c.a.files.create(file=open(path, "rb"), purpose="fine-tune")
    job = c.a.fine_tuning.jobs.create(training_file=f.id, model=BASE, method=TINY_JOB)
    job, seen = wait_job(c.a, job.id, timeout=240)
    check(job.status == "succeeded", "the job ended %s (%s): %s" % (job.status, seen, job.error))
    c.job, c.ft = job.id, job.fine_tuned_model
    c.ckpt = c.a.fine_tuning.jobs.checkpoints.list(job.id).data[0].fine_tuned_model_checkpoint


def test_gguf_download_is_the_cli_export(c):
    status, headers, body = get(c, c.ft, "?format=gguf", c.key_a)
    check(status == 200, "format=gguf: HTTP %d %s" % (status, body[:300]))
    check(headers.get("content-type") == "application/octet-stream", "content-type %r" % headers.get("content-type"))
    check(".gguf\"" in headers.get("content-disposition", ""), "disposition %r" % headers.get("content-disposition"))
    check(body[:4] == b"GGUF", "the download is not a GGUF file: %r" % body[:16])
    cli = os.path.join(c.tmp, "cli.gguf")
    r = subprocess.run([BINARY, "export", "--model", os.path.join(ROOT, "models", BASE + ".gguf"), "--adapter",
                        os.path.join(c.data, "jobs", c.job), "--format", "gguf", "--out", cli], capture_output=True,
                       text=True)
    check(r.returncode == 0, "ftune export: %s" % r.stderr)
    check(open(cli, "rb").read() == body, "the server's adapter GGUF differs from `ftune export --format gguf`")
    from gguf import GGUFReader
    path = os.path.join(c.tmp, "server.gguf")
    open(path, "wb").write(body)
    rd = GGUFReader(path)
    check(rd.fields["general.type"].contents() == "adapter" and rd.fields["adapter.type"].contents() == "lora",
          "gguf does not read an adapter")
    check(any(t.name == "blk.0.attn_q.weight.lora_b" for t in rd.tensors), "no blk.0.attn_q.weight.lora_b")
    status, _, body = get(c, c.ckpt, "?format=gguf", c.key_a)
    check(status == 200 and body[:4] == b"GGUF", "a checkpoint's export: HTTP %d" % status)


def test_peft_download_is_the_adapter_directory(c):
    status, headers, body = get(c, c.ft, "?format=peft", c.key_a)
    check(status == 200, "format=peft: HTTP %d %s" % (status, body[:300]))
    check(headers.get("content-type") == "application/x-tar", "content-type %r" % headers.get("content-type"))
    with tarfile.open(fileobj=io.BytesIO(body)) as t:
        names = t.getnames()
        check(names == ["adapter_config.json", "adapter_model.safetensors"], "tar members %s" % names)
        for n in names:
            want = open(os.path.join(c.data, "jobs", c.job, n), "rb").read()
            check(t.extractfile(n).read() == want, "%s in the tar differs from the job's" % n)


def test_adapter_flag_model(c):
    # an --adapter model is every project's: B downloads it too
    status, _, body = get(c, "toys", "?format=gguf", c.key_b)
    check(status == 200 and body[:4] == b"GGUF", "--adapter model, format=gguf: HTTP %d %s" % (status, body[:200]))
    status, _, body = get(c, "toys", "?format=peft", c.key_b)
    check(status == 200, "--adapter model, format=peft: HTTP %d" % status)
    with tarfile.open(fileobj=io.BytesIO(body)) as t:
        for n in t.getnames():
            check(t.extractfile(n).read() == open(os.path.join(c.adapter_dir, n), "rb").read(), "%s differs" % n)


def test_refusals(c):
    for model, query, key, status, code in [
            (c.ft, "?format=gguf", c.key_b, 404, "model_not_found"),
            (c.ckpt, "?format=peft", c.key_b, 404, "model_not_found"),
            (BASE, "?format=gguf", c.key_a, 400, "model_not_exportable"),
            (c.ft, "", c.key_a, 400, "missing_required_parameter"),
            (c.ft, "?format=zip", c.key_a, 400, "invalid_value"),
            (c.ft, "?format=gguf&quant=q4", c.key_a, 400, "unknown_parameter"),
            ("nope", "?format=gguf", c.key_a, 404, "model_not_found")]:
        got, headers, body = get(c, model, query, key)
        what = "%s%s as %s" % (model, query, "B" if key == c.key_b else "A")
        check(got == status, "%s: HTTP %d, expected %d: %s" % (what, got, status, body[:300]))
        e = check_error_shape(got, headers, body, what)
        check(e["code"] == code, "%s: code %r, expected %r" % (what, e["code"], code))
    got, _, _ = get(c, c.ft, "?format=gguf", None)
    check(got == 401, "no key: HTTP %d" % got)


if __name__ == "__main__":
    run_tests([test_fine_tune, test_gguf_download_is_the_cli_export, test_peft_download_is_the_adapter_directory,
               test_adapter_flag_model, test_refusals], setup=setup, teardown=teardown)
