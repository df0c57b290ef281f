"""test_adapters.py: `ftune serve --adapter NAME=DIR[@BASE_ID]` against the real binary. Writes
PEFT adapters for SmolLM2-135M-Instruct that ftune did not train (scripts/write_peft_adapter.py:
PEFT's config fields and key names, BF16 tensors, a random non-zero B), serves them, and checks
with the official openai SDK: they are listed and retrievable, a greedy chat on one answers and
differs from the base model's, the base found from base_model_name_or_path and the one named with
@BASE_ID give the same text, DELETE is refused (403, configuration), an adapter whose tensors do
not fit fails its request and not the server. Then each bad flag: exit 2 before the data
directory is made, with a message naming the flag and the problem. Plain script:
`python3 tests/e2e/test_adapters.py`.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import openai  # noqa: E402

from serve_util import BINARY, MODELS, ROOT, Server, check, run_tests, stop_and_clean  # noqa: E402
from write_peft_adapter import model_dims, write_adapter  # noqa: E402

BASE = "SmolLM2-135M-Instruct.Q4_1"
HF_BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"  # resolves to BASE: "SmolLM2-135M-Instruct" + "."
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
MAX_TOKENS = 8


class Ctx:
    pass


def adapter(c, name, **kw):
    """A PEFT adapter on q_proj and v_proj whose B is large enough to change the greedy text."""
    opts = dict(seed=1, rank=8, alpha=16, targets=("q_proj", "v_proj"), b_scale=0.5, dtype="BF16")
    opts.update(kw)
    return write_adapter(os.path.join(c.tmp, name), c.dims, opts.pop("base_name", HF_BASE), **opts)


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-adapters-")
    c.dims = model_dims(os.path.join(MODELS, BASE + ".gguf"), BINARY)
    c.dir = adapter(c, "peft-triage")
    # tensors of rank 4 under a config that says 8: passes start-up, fails when loaded
    c.broken = adapter(c, "peft-broken", rank=4)
    with open(os.path.join(c.broken, "adapter_config.json")) as f:
        cfg = json.load(f)
    cfg["r"] = 8
    with open(os.path.join(c.broken, "adapter_config.json"), "w") as f:
        json.dump(cfg, f)
    c.server = Server(os.path.join(c.tmp, "data"), extra_args=[
        "--adapter", "triage=" + c.dir, "--adapter", "triage-explicit=%s@%s" % (c.dir, BASE),
        "--adapter", "broken=" + c.broken]).start()
    c.client = c.server.client()
    return c


def teardown(c):
    stop_and_clean(c)


def chat(c, model):
    r = c.client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=MAX_TOKENS, temperature=0)
    check(r.model == model, "chat on %s answered model %r" % (model, r.model))
    check(r.choices[0].message.role == "assistant" and isinstance(r.choices[0].message.content, str),
          "chat on %s: %r" % (model, r))
    return r.choices[0].message.content


def test_listed(c):
    models = {m.id: m for m in c.client.models.list()}
    for name in ("triage", "triage-explicit", BASE):
        check(name in models, "models.list lacks %r: %s" % (name, sorted(models)))
    m = models["triage"]
    check(m.object == "model" and isinstance(m.created, int) and m.owned_by == "org-ftune",
          "listed adapter model: %r" % m)
    r = c.client.models.retrieve("triage")
    check(r.id == "triage" and r.object == "model" and r.owned_by == "org-ftune", "models.retrieve: %r" % r)


def test_chat_differs_from_base(c):
    base = chat(c, BASE)
    text = chat(c, "triage")
    check(text, "empty answer from the adapter model")
    check(text != base, "the adapter model answers as the base model does: %r" % text)
    check(chat(c, "triage") == text, "greedy text of the adapter model differs between two calls")
    check(chat(c, "triage-explicit") == text, "the same adapter named with @%s answers otherwise" % BASE)
    check(chat(c, BASE) == base, "the base model's answer changed after the adapter's requests")


def test_delete_refused(c):
    try:
        c.client.models.delete("triage")
        raise AssertionError("models.delete of an --adapter model did not raise")
    except openai.PermissionDeniedError as e:
        check(e.code == "model_not_deletable", "code %r (body %r)" % (e.code, e.body))
        check("--adapter" in str(e.body), "the refusal does not say why: %r" % e.body)
    check("triage" in [m.id for m in c.client.models.list()], "the adapter model left the list after a refused delete")
    chat(c, "triage")


def test_broken_adapter_fails_its_request(c):
    try:
        chat(c, "broken")
        raise AssertionError("chat on an adapter with misshapen tensors did not fail")
    except openai.APIStatusError as e:
        check("adapter_model.safetensors" in str(e.body), "the error does not name the file: %r" % e.body)
        check(c.tmp not in str(e.body) and "/" not in e.body["message"],
              "the error shows the server's paths: %r" % e.body["message"])
    chat(c, "triage")
    check(c.server.alive(), "the server exited")


def bad_flag(c, spec, want, models_dir=MODELS):
    data = os.path.join(c.tmp, "bad-data")
    r = subprocess.run([BINARY, "serve", "--port", "0", "--data", data, "--models", models_dir, "--adapter"] + spec,
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode("utf-8", "replace")
    check(r.returncode == 2, "--adapter %s: exit %d, expected 2:\n%s" % (spec, r.returncode, out))
    check("--adapter '%s'" % spec[0] in out and want in out,
          "--adapter %s: the message lacks %r (and the flag):\n%s" % (spec, want, out))
    check(not os.path.exists(data), "--adapter %s: the data directory was made before the check" % spec)


def test_bad_flags(c):
    no_config = os.path.join(c.tmp, "no-config")
    os.makedirs(no_config)
    no_base = adapter(c, "no-base", base_name=None, targets=("q_proj",))
    unknown = adapter(c, "unknown-base", base_name="someorg/NoSuchModel-7B", targets=("q_proj",))
    twins = os.path.join(c.tmp, "twin-models")  # two quantizations of one model: ambiguous
    os.makedirs(twins)
    for q in ("Q4_1", "Q8_0"):
        os.symlink(os.path.join(MODELS, BASE + ".gguf"), os.path.join(twins, "SmolLM2-135M-Instruct.%s.gguf" % q))
    cases = [
        (["noequals"], "expected NAME=DIR"),
        (["=" + c.dir], "the model name before '=' is empty"),
        (["a/b=" + c.dir], "contains '/'"),
        (["ft:mine=" + c.dir], "'ft:'"),
        ([BASE + "=" + c.dir], "already a base model"),
        (["x=" + c.dir, "--adapter", "x=" + c.dir], "already served by an earlier --adapter"),
        (["x="], "the adapter directory after '=' is empty"),
        (["x=" + os.path.join(c.tmp, "missing")], "No such file or directory"),
        (["x=" + no_config], "adapter_config.json: cannot open"),
        (["x=" + no_base], "names no base_model_name_or_path"),
        (["x=" + unknown], "'someorg/NoSuchModel-7B' matches no base model"),
        (["x=%s@NoSuchBase" % c.dir], "@NoSuchBase: no such base model"),
        (["x=%s@" % c.dir], "the base model id after '@' is empty"),
    ]
    for spec, want in cases:
        bad_flag(c, spec, want)
    bad_flag(c, ["x=" + c.dir], "matches several base models", models_dir=twins)
    srv = Server(os.path.join(c.tmp, "twin-data"), models_dir=twins,  # ... which @BASE_ID settles
                 extra_args=["--adapter", "x=%s@SmolLM2-135M-Instruct.Q8_0" % c.dir]).start()
    try:
        ids = [m.id for m in srv.client().models.list()]
        check("x" in ids, "the adapter named with @BASE_ID among ambiguous bases is not listed: %s" % ids)
    finally:
        srv.stop()
    r = subprocess.run([BINARY, "serve", "--help"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(b"--adapter NAME=DIR[@BASE_ID]" in r.stdout, "ftune serve --help does not show --adapter")
    shutil.rmtree(twins)


TESTS = [test_listed, test_chat_differs_from_base, test_delete_refused, test_broken_adapter_fails_its_request,
         test_bad_flags]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
