"""test_embeddings.py: /v1/embeddings through the official openai SDK against the real server, with
models/all-MiniLM-L6-v2 (scripts/fetch_models.sh; skipped without it): the model is listed; one
text, a batch (in order) and token-id inputs give the vectors sentence-transformers gives
(tests/golden/embeddings, within the C test's bounds: 5e-6 when the server runs at fp32; at bf16,
the default where the CPU has AMX, 1e-2 on a component and cosine within 5e-4 of 1, as
tests/unit/test_embed.c derives them; the precision is read from the server's log) with usage
counting the inputs' tokens;
base64 (the SDK's default, decoded by the SDK, and asked explicitly) is the same float32 bits as the
float form; /metrics counts the requests, inputs and tokens; OpenAI's errors: empty input, an empty string, more than 2048 inputs, an input over the
window, a token id outside the vocabulary, dimensions, an unknown field, a bad encoding_format, a
chat model (400) and an unknown one (404); chat completions and fine-tuning refuse the embedding
model. Plain script: `python3 tests/e2e/test_embeddings.py`.
"""
import base64
import json
import math
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402
from serve_util import MODELS, ROOT, Server, chat_example, check, run_tests, stop_and_clean, write_jsonl  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
GOLDEN = os.path.join(ROOT, "tests", "golden", "embeddings", "all-MiniLM-L6-v2.json")
MAX_ABS = {"fp32": 5e-6, "bf16": 1e-2}  # tests/unit/test_embed.c's bounds
MIN_COS = {"fp32": 1 - 1e-9, "bf16": 1 - 5e-4}
MAX_TEXT_TOKENS = 254


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-emb-")
    c.server = Server(os.path.join(c.tmp, "data"), api_key="k").start()
    c.client = c.server.client()
    with open(c.server.log_path, encoding="utf-8", errors="replace") as f:
        log = f.read()
    c.precision = "bf16" if "precision: bf16" in log else "fp32"
    check("precision: %s" % c.precision in log, "the server's log names no precision:\n%s" % log[-2000:])
    with open(GOLDEN, encoding="utf-8") as f:
        c.golden = json.load(f)["cases"]
    # what the API accepts: non-empty texts within the window
    c.ok = [g for g in c.golden if g["text"] and len(g["ids"]) - 2 <= MAX_TEXT_TOKENS]
    c.long = [g for g in c.golden if len(g["ids"]) - 2 > MAX_TEXT_TOKENS][0]
    return c


def teardown(c):
    stop_and_clean(c)


def close(c, vec, ref, what):
    check(len(vec) == len(ref) == 384, "%s: %d floats" % (what, len(vec)))
    err = max(abs(a - b) for a, b in zip(vec, ref))
    cos = sum(a * b for a, b in zip(vec, ref)) / math.sqrt(sum(a * a for a in vec) * sum(b * b for b in ref))
    p = c.precision
    check(err < MAX_ABS[p] and cos > MIN_COS[p], "%s: differs from sentence-transformers by %.3g (cosine 1 - %.3g) at %s"
          % (what, err, 1 - cos, p))


def expect_error(cls, status, param, code, fn):
    try:
        fn()
    except cls as e:
        check(e.status_code == status, "status %d, expected %d: %r" % (e.status_code, status, e.body))
        check(e.body.get("param") == param, "param %r, expected %r: %r" % (e.body.get("param"), param, e.body))
        check(code is None or e.body.get("code") == code, "code %r, expected %r" % (e.body.get("code"), code))
        return e
    raise AssertionError("no %s" % cls.__name__)


def test_model_is_listed(c):
    ids = [m.id for m in c.client.models.list()]
    check(MODEL in ids, "%s not in %s" % (MODEL, ids))


def test_one_text(c):
    g = c.ok[3]
    r = c.client.embeddings.create(model=MODEL, input=g["text"], encoding_format="float")
    check(r.object == "list" and r.model == MODEL and len(r.data) == 1, "response %r" % r)
    check(r.data[0].object == "embedding" and r.data[0].index == 0, "item %r" % r.data[0])
    close(c, r.data[0].embedding, g["embedding"], "one text")
    n = len(g["ids"]) - 2
    check(r.usage.prompt_tokens == n and r.usage.total_tokens == n, "usage %r, expected %d" % (r.usage, n))


def test_batch_in_order(c):
    texts = [g["text"] for g in c.ok]
    r = c.client.embeddings.create(model=MODEL, input=texts, encoding_format="float", user="someone")
    check([d.index for d in r.data] == list(range(len(texts))), "indices %r" % [d.index for d in r.data])
    for d, g in zip(r.data, c.ok):
        close(c, d.embedding, g["embedding"], "batch item %d" % d.index)
    check(r.usage.prompt_tokens == sum(len(g["ids"]) - 2 for g in c.ok), "usage %r" % r.usage)


def test_base64_is_the_same_floats(c):
    texts = [c.ok[0]["text"], c.ok[5]["text"]]
    floats = c.client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    raw = c.client.embeddings.create(model=MODEL, input=texts, encoding_format="base64")
    default = c.client.embeddings.create(model=MODEL, input=texts)  # the SDK asks base64 and decodes it
    for i in range(2):
        b = raw.data[i].embedding
        check(isinstance(b, str), "base64 item is %r" % type(b))
        vec = struct.unpack("<384f", base64.b64decode(b))
        want = [struct.unpack("<f", struct.pack("<f", x))[0] for x in floats.data[i].embedding]
        check(list(vec) == want, "base64 and float forms differ (item %d)" % i)
        check([float(x) for x in default.data[i].embedding] == want, "the SDK's default form differs (item %d)" % i)


def test_token_inputs(c):
    g1, g2 = c.ok[2], c.ok[4]
    one = c.client.embeddings.create(model=MODEL, input=g1["ids"][1:-1], encoding_format="float")
    close(c, one.data[0].embedding, g1["embedding"], "token ids")
    two = c.client.embeddings.create(model=MODEL, input=[g1["ids"][1:-1], g2["ids"][1:-1]], encoding_format="float")
    close(c, two.data[1].embedding, g2["embedding"], "arrays of token ids")
    check(two.usage.prompt_tokens == len(g1["ids"]) + len(g2["ids"]) - 4, "usage %r" % two.usage)


def test_metrics_count_embeddings(c):
    status, _, body = c.server.request("GET", "/metrics", headers={"Authorization": "Bearer k"})
    check(status == 200, "GET /metrics: %d" % status)
    values = {l.split()[0]: float(l.split()[1]) for l in body.decode().splitlines() if l.startswith("ftune_embedding_")}
    check(values.get("ftune_embedding_requests_total", 0) >= 5 and values.get("ftune_embedding_inputs_total", 0) >= 20
          and values.get("ftune_embedding_tokens_total", 0) > 100, "metrics %r" % values)


def test_errors(c):
    emb = c.client.embeddings.create
    B, NF = openai.BadRequestError, openai.NotFoundError
    expect_error(B, 400, "input", None, lambda: emb(model=MODEL, input=[]))
    expect_error(B, 400, "input", None, lambda: emb(model=MODEL, input=""))
    expect_error(B, 400, "input[1]", None, lambda: emb(model=MODEL, input=["a", ""]))
    expect_error(B, 400, "input", "array_above_max_length", lambda: emb(model=MODEL, input=["a"] * 2049))
    e = expect_error(B, 400, "input[1]", "context_length_exceeded", lambda: emb(model=MODEL, input=["a", c.long["text"]]))
    check("256" in e.body["message"], "message %r" % e.body["message"])
    expect_error(B, 400, "input", "invalid_value", lambda: emb(model=MODEL, input=[[101, 30522]]))
    expect_error(B, 400, "dimensions", None, lambda: emb(model=MODEL, input="a", dimensions=64))
    expect_error(B, 400, "temperature", "unknown_parameter", lambda: emb(model=MODEL, input="a", extra_body={"temperature": 1}))
    expect_error(B, 400, "encoding_format", None, lambda: emb(model=MODEL, input="a", encoding_format="int8"))
    expect_error(B, 400, "model", None, lambda: emb(model="tiny-qwen2", input="a"))
    expect_error(NF, 404, "model", "model_not_found", lambda: emb(model="no-such-model", input="a"))
    # the server still answers after the errors
    close(c, emb(model=MODEL, input=c.ok[0]["text"], encoding_format="float").data[0].embedding, c.ok[0]["embedding"], "after")


def test_chat_and_fine_tuning_refuse_it(c):
    expect_error(openai.BadRequestError, 400, "model", None, lambda: c.client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]))
    path = write_jsonl(os.path.join(c.tmp, "train.jsonl"), [chat_example(i) for i in range(10)])
    with open(path, "rb") as f:
        fid = c.client.files.create(file=f, purpose="fine-tune").id
    expect_error(openai.BadRequestError, 400, "model", "model_not_available",
                 lambda: c.client.fine_tuning.jobs.create(training_file=fid, model=MODEL))


if __name__ == "__main__":
    if not os.path.isfile(os.path.join(MODELS, MODEL, "model.safetensors")):
        print("skip: models/%s not fetched (scripts/fetch_models.sh)" % MODEL)
        sys.exit(0)
    run_tests([test_model_is_listed, test_one_text, test_batch_in_order, test_base64_is_the_same_floats,
               test_token_inputs, test_metrics_count_embeddings, test_errors, test_chat_and_fine_tuning_refuse_it], setup, teardown)
