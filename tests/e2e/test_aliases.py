"""test_aliases.py: what a script moving from OpenAI fine-tuning meets, against the real `ftune
serve` with the official openai SDK: model aliases (`--alias NAME=TARGET` and `ftune alias set`
while the server runs), chat on an alias, a fine-tuning job on an alias (its ft: name keeps the
alias), the method object (supervised accepted, reinforcement refused naming it (dpo: test_dpo.py),
the deprecated top-level hyperparameters beside it only when they agree), continued training of an
ft: model (it starts from that adapter: its first loss is near the first job's last loss, far
below a new adapter's first loss), live re-pointing of an alias between two ft: models and back
(rollback), /v1/models listing aliases with alias_for, and the refusals: an unknown target, an
alias shadowing a model, DELETE on an alias, an alias whose target was deleted, unknown query
parameters. Plain script: `python3 tests/e2e/test_aliases.py`.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402

from serve_util import (BINARY, MODELS, ROOT, Server, chat_example, check, run_tests, stop_and_clean,  # noqa: E402
                        wait_job, write_jsonl)

BASE = "tiny-qwen2"
OPENAI_NAME = "gpt-4o-mini-2024-07-18"   # what migrating scripts send
N_EXAMPLES = 20
BATCH = 4
EPOCHS = 4
MESSAGES = [{"role": "system", "content": "You answer questions about item colours."},
            {"role": "user", "content": "What colour is item 3?"}]
FT_RE = r"^ft:%s:ftune:%s:[A-Za-z0-9]{8}$"


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-aliases-")
    c.data = os.path.join(c.tmp, "data")
    c.server = Server(c.data, extra_args=["--alias", "%s=%s" % (OPENAI_NAME, BASE)]).start()
    c.client = c.server.client()
    path = write_jsonl(os.path.join(c.tmp, "train.jsonl"), [chat_example(i) for i in range(N_EXAMPLES)])
    with open(path, "rb") as f:
        c.file_id = c.client.files.create(file=f, purpose="fine-tune").id
    return c


def teardown(c):
    stop_and_clean(c)


def alias_cli(c, *args):
    r = subprocess.run([BINARY, "alias"] + list(args) + ["--data", c.data, "--models", MODELS], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def chat(c, model):
    r = c.client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=6, temperature=0)
    return r.model, r.choices[0].message.content


def expect_error(fn, status, what, param=None, contains=()):
    try:
        fn()
    except openai.APIStatusError as e:
        check(e.status_code == status, "%s: HTTP %d, expected %d: %s" % (what, e.status_code, status, e.body))
        body = e.body if isinstance(e.body, dict) else {}
        err = body.get("error", body)
        if param is not None:
            check(err.get("param") == param, "%s: param %r, expected %r: %s" % (what, err.get("param"), param, err))
        for text in contains:
            check(text in (err.get("message") or ""), "%s: the message does not name %r: %s" % (what, text, err))
        return err
    raise AssertionError("%s: no error" % what)


def losses(c, job_id):
    """The train_loss of each step of a job, in step order."""
    events = c.client.fine_tuning.jobs.list_events(job_id, limit=1000).data
    steps = {}
    for e in events:
        if e.type == "metrics" and e.data:
            steps[e.data["step"]] = e.data["train_loss"]
    return [steps[k] for k in sorted(steps)]


def hp(epochs, **kw):
    h = {"n_epochs": epochs, "batch_size": BATCH}
    h.update(kw)
    return {"type": "supervised", "supervised": {"hyperparameters": h}}


def test_flag_alias_listed_and_retrieved(c):
    models = {m.id: m for m in c.client.models.list()}
    check(OPENAI_NAME in models and BASE in models, "models.list lacks the alias or its base: %s" % sorted(models))
    m = models[OPENAI_NAME]
    check(m.object == "model" and getattr(m, "alias_for", None) == BASE, "listed alias: %r" % m)
    r = c.client.models.retrieve(OPENAI_NAME)
    check(r.id == OPENAI_NAME and getattr(r, "alias_for", None) == BASE, "retrieved alias: %r" % r)
    check(getattr(models[BASE], "alias_for", None) is None, "a base model has alias_for: %r" % models[BASE])


def test_chat_on_alias(c):
    model, text = chat(c, OPENAI_NAME)
    check(model == BASE, "chat on the alias answered model %r, expected its target %r" % (model, BASE))
    _, direct = chat(c, BASE)
    check(text == direct, "greedy text on the alias %r differs from the base model's %r" % (text, direct))


def test_method_object(c):
    create = c.client.fine_tuning.jobs.create
    for method in ("reinforcement",):
        expect_error(lambda: create(training_file=c.file_id, model=OPENAI_NAME,
                                    method={"type": method, method: {"hyperparameters": {}}}),
                     400, "method " + method, param="method.type", contains=(method,))
    expect_error(lambda: create(training_file=c.file_id, model=OPENAI_NAME, method=hp(2),
                                hyperparameters={"n_epochs": 3}),
                 400, "conflicting hyperparameters", param="hyperparameters", contains=("n_epochs",))
    expect_error(lambda: create(training_file=c.file_id, model=OPENAI_NAME,
                                method={"type": "supervised", "supervised": {"hyperparameters": {}, "beta": 1}}),
                 400, "unknown method.supervised field", param="method.supervised", contains=("beta",))
    # the same values in both places: accepted (and shown once, in method and hyperparameters)
    j = create(training_file=c.file_id, model=OPENAI_NAME, method=hp(1), hyperparameters={"n_epochs": 1,
                                                                                          "batch_size": BATCH})
    check(j.method.type == "supervised" and j.method.supervised.hyperparameters.n_epochs == 1,
          "job.method: %r" % j.method)
    c.client.fine_tuning.jobs.cancel(j.id)


def test_job_on_alias(c):
    j = c.client.fine_tuning.jobs.create(training_file=c.file_id, model=OPENAI_NAME, suffix="v1", seed=3,
                                         method=hp(EPOCHS), metadata={"run": "aliases"})
    check(j.model == OPENAI_NAME, "job.model %r, expected the name asked for" % j.model)
    job, seen = wait_job(c.client, j.id)
    check(job.status == "succeeded", "job on an alias: %s (%s)" % (job.status, job.error))
    check(re.match(FT_RE % (re.escape(OPENAI_NAME), "v1"), job.fine_tuned_model or ""),
          "fine_tuned_model %r does not keep the alias's name" % job.fine_tuned_model)
    c.ft1 = job.fine_tuned_model
    c.job1 = job.id
    msgs = [e.message for e in c.client.fine_tuning.jobs.list_events(j.id, limit=100).data]
    check(any("started on base model %s ('%s' is an alias of it)" % (BASE, OPENAI_NAME) in m for m in msgs),
          "no event names the base model the alias stands for: %s" % msgs)
    model, _ = chat(c, c.ft1)
    check(model == c.ft1, "chat on %s answered %r" % (c.ft1, model))
    # the metadata filter finds it
    found = [x.id for x in c.client.fine_tuning.jobs.list(metadata={"run": "aliases"})]
    check(found == [j.id], "jobs.list(metadata=run:aliases) gave %s" % found)


def test_continued_training(c):
    j = c.client.fine_tuning.jobs.create(training_file=c.file_id, model=c.ft1, suffix="v2", seed=3, method=hp(1))
    check(j.model == c.ft1, "job.model %r, expected %r" % (j.model, c.ft1))
    job, _ = wait_job(c.client, j.id)
    check(job.status == "succeeded", "continued job: %s (%s)" % (job.status, job.error))
    check(re.match(FT_RE % (re.escape(OPENAI_NAME), "v2"), job.fine_tuned_model or ""),
          "continued fine_tuned_model %r does not derive from the original base" % job.fine_tuned_model)
    c.ft2 = job.fine_tuned_model
    msgs = [e.message for e in c.client.fine_tuning.jobs.list_events(j.id, limit=100).data]
    check(any("continuing the adapter of " + c.ft1 in m for m in msgs), "no event says what it continues: %s" % msgs)
    first, cont = losses(c, c.job1), losses(c, j.id)
    check(len(first) == EPOCHS * N_EXAMPLES // BATCH and cont, "losses: %s / %s" % (first, cont))
    fresh0, trained = first[0], sum(first[-3:]) / 3
    print("    fresh first loss %.4f, first job's last losses %.4f, continued first loss %.4f"
          % (fresh0, trained, cont[0]))
    check(fresh0 - trained > 0.5, "the first job hardly learned (%.3f -> %.3f): the check below means nothing"
          % (fresh0, trained))
    check(abs(cont[0] - trained) < 0.25 * (fresh0 - trained),
          "the continued job's first loss %.4f is not near the first job's last %.4f (a new adapter starts at %.4f)"
          % (cont[0], trained, fresh0))
    # same adapter shape as the one it continued
    cfgs = []
    for job_id in (c.job1, j.id):
        with open(os.path.join(c.data, "jobs", job_id, "adapter_config.json")) as f:
            cfg = json.load(f)
        cfgs.append((cfg["r"], cfg["lora_alpha"], sorted(cfg["target_modules"]), cfg["base_model_name_or_path"]))
    check(cfgs[0] == cfgs[1], "adapter configs differ: %s" % cfgs)
    check(cfgs[0][3] == BASE, "base_model_name_or_path %r, expected the local base %r" % (cfgs[0][3], BASE))


def test_cli_alias_live_repoint_and_rollback(c):
    rc, out = alias_cli(c, "set", "triage-prod", c.ft1)
    check(rc == 0, "ftune alias set (server running): %d %s" % (rc, out))
    model, _ = chat(c, "triage-prod")
    check(model == c.ft1, "triage-prod answered as %r, expected %r" % (model, c.ft1))
    listed = {m.id: m for m in c.client.models.list()}
    check(getattr(listed.get("triage-prod"), "alias_for", None) == c.ft1, "listed: %r" % listed.get("triage-prod"))
    rc, out = alias_cli(c, "set", "triage-prod", c.ft2)
    check(rc == 0 and "was " + c.ft1 in out, "re-point: %d %s" % (rc, out))
    model, _ = chat(c, "triage-prod")
    check(model == c.ft2, "after re-pointing, triage-prod answered as %r, expected %r" % (model, c.ft2))
    check(c.client.models.retrieve("triage-prod").alias_for == c.ft2, "retrieve after re-pointing")
    rc, out = alias_cli(c, "set", "triage-prod", c.ft1)  # rollback
    model, _ = chat(c, "triage-prod")
    check(rc == 0 and model == c.ft1, "rollback: %d %s, answered as %r" % (rc, out, model))
    rc, out = alias_cli(c, "list")
    check(rc == 0 and "triage-prod -> " + c.ft1 in out, "alias list: %s" % out)


def test_job_on_alias_of_ft_model(c):
    """A job on an alias that names an ft: model continues that model, named after the original base."""
    j = c.client.fine_tuning.jobs.create(training_file=c.file_id, model="triage-prod", suffix="v3", method=hp(1))
    check(j.model == "triage-prod", "job.model %r" % j.model)
    job, _ = wait_job(c.client, j.id)
    check(job.status == "succeeded", "job on an alias of an ft: model: %s (%s)" % (job.status, job.error))
    check(re.match(FT_RE % (re.escape(OPENAI_NAME), "v3"), job.fine_tuned_model or ""),
          "fine_tuned_model %r" % job.fine_tuned_model)
    msgs = [e.message for e in c.client.fine_tuning.jobs.list_events(j.id, limit=100).data]
    check(any("continuing the adapter of " + c.ft1 in m for m in msgs), "no event says what it continues: %s" % msgs)


def test_refusals(c):
    rc, out = alias_cli(c, "set", "x", "no-such-model")
    check(rc == 2 and "no-such-model" in out, "unknown target: %d %s" % (rc, out))
    rc, out = alias_cli(c, "set", BASE, c.ft1)
    check(rc == 2 and "shadow" in out, "alias shadowing a base model: %d %s" % (rc, out))
    rc, out = alias_cli(c, "set", "y", "triage-prod")
    check(rc == 2 and "alias itself" in out, "alias of an alias: %d %s" % (rc, out))
    expect_error(lambda: chat(c, "not-an-alias"), 404, "chat on an unknown name", param="model")
    expect_error(lambda: c.client.models.delete("triage-prod"), 403, "DELETE on an alias", param="model",
                 contains=("alias",))
    check(c.client.models.retrieve(c.ft1).id == c.ft1, "DELETE on the alias touched its target")
    expect_error(lambda: c.client.fine_tuning.jobs.list(extra_query={"status": "running"}), 400,
                 "unknown query parameter", param="status")
    expect_error(lambda: c.client.models.list(extra_query={"owned_by": "me"}), 400, "unknown query parameter",
                 param="owned_by")
    # an alias whose target goes away: a 404 naming both
    rc, out = alias_cli(c, "set", "gone", c.ft2)
    check(rc == 0, "set gone: %s" % out)
    c.client.models.delete(c.ft2)
    expect_error(lambda: chat(c, "gone"), 404, "chat on an alias of a deleted model", param="model",
                 contains=("gone", c.ft2))
    expect_error(lambda: c.client.fine_tuning.jobs.create(training_file=c.file_id, model="gone"), 404,
                 "job on an alias of a deleted model", param="model", contains=(c.ft2,))
    check("gone" not in {m.id for m in c.client.models.list()}, "an alias of a deleted model is listed")
    rc, out = alias_cli(c, "list")
    check("gone -> %s  (target missing)" % c.ft2 in out, "alias list: %s" % out)
    rc, out = alias_cli(c, "rm", "gone")
    check(rc == 0, "alias rm: %s" % out)


def test_bad_alias_flags(c):
    """Each bad --alias: exit 2 naming the flag and the problem, before serving."""
    cases = [("x=no-such-model", "no-such-model"), ("%s=stories260K" % BASE, "shadow"),
             ("noequals", "NAME=TARGET"), ("a:b=%s" % BASE, "':'"), ("z=%s" % OPENAI_NAME, "alias itself")]
    for spec, text in cases:
        r = subprocess.run([BINARY, "serve", "--port", "0", "--data", os.path.join(c.tmp, "bad"), "--models", MODELS,
                            "--alias", "%s=%s" % (OPENAI_NAME, BASE), "--alias", spec],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = r.stdout.decode("utf-8", "replace")
        check(r.returncode == 2 and "--alias '%s'" % spec in out and text in out,
              "--alias %s: exit %d: %s" % (spec, r.returncode, out))
    check(not os.path.exists(os.path.join(c.tmp, "bad")), "a refused --alias made the data directory")


if __name__ == "__main__":
    run_tests([test_flag_alias_listed_and_retrieved, test_chat_on_alias, test_method_object, test_job_on_alias,
               test_continued_training, test_cli_alias_live_repoint_and_rollback, test_job_on_alias_of_ft_model,
               test_refusals, test_bad_alias_flags], setup, teardown)
