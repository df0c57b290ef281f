"""test_dpo.py: DPO fine-tuning through the real `ftune serve` with the official openai SDK:
a preference file made from the support-triage data (the correct label preferred, a wrong one
rejected) uploaded, a job with method {"type": "dpo", "dpo": {"hyperparameters": {"beta": ...}}}
on SmolLM2-135M-Instruct, its events followed until it succeeds (DPO metrics: train_loss and the
chosen/rejected rewards, reward accuracy and margin), the job object as OpenAI shows a DPO job
(method.dpo.hyperparameters resolved, top-level hyperparameters null), and the trained model
preferring the preferred labels more than the base model does: the mean log-probability margin
of the preferred over the rejected label where the reply starts, from chat completions' logprobs
(the reply constrained to the labels), rises.
A DPO job on that ft: model continues its adapter against it, frozen, as the reference. Also the
refusals: beta out of range, reinforcement, a supervised file for a DPO job (fails in
validation naming the line). Plain script: `python3 tests/e2e/test_dpo.py`.
"""
import json
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402

from serve_util import ROOT, Server, chat_example, check, run_tests, stop_and_clean, wait_job, write_jsonl  # noqa: E402

BASE = "SmolLM2-135M-Instruct.Q4_1"
TRIAGE = os.path.join(ROOT, "..", "shared", "data", "support-triage", "train.jsonl")
LABELS = ["billing", "technical", "account"]
N_PAIRS = 10          # OpenAI's minimum
EPOCHS, BATCH = 2, 5  # 4 steps
BETA = 0.2


class Ctx:
    pass


def triage_pairs():
    pairs = []
    with open(TRIAGE) as f:
        for line in f:
            msgs = json.loads(line)["messages"]
            good = msgs[-1]["content"]
            bad = LABELS[(LABELS.index(good) + 1) % len(LABELS)]
            pairs.append({"input": {"messages": msgs[:-1]},
                          "preferred_output": [{"role": "assistant", "content": good}],
                          "non_preferred_output": [{"role": "assistant", "content": bad}]})
            if len(pairs) == N_PAIRS:
                break
    return pairs


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-dpo-")
    c.server = Server(os.path.join(c.tmp, "data")).start()
    c.client = c.server.client()
    c.pairs = triage_pairs()
    path = write_jsonl(os.path.join(c.tmp, "dpo.jsonl"), c.pairs)
    with open(path, "rb") as f:
        c.file_id = c.client.files.create(file=f, purpose="fine-tune").id
    sft = write_jsonl(os.path.join(c.tmp, "sft.jsonl"), [chat_example(i) for i in range(N_PAIRS)])
    with open(sft, "rb") as f:
        c.sft_file = c.client.files.create(file=f, purpose="fine-tune").id
    return c


def teardown(c):
    stop_and_clean(c)


def expect_400(fn, what, param):
    try:
        fn()
    except openai.BadRequestError as e:
        err = e.body.get("error", e.body) if isinstance(e.body, dict) else {}
        check(err.get("param") == param, "%s: param %r, expected %r: %s" % (what, err.get("param"), param, err))
        return err
    raise AssertionError("%s: no error" % what)


def dpo_method(**hp):
    return {"type": "dpo", "dpo": {"hyperparameters": hp}}


def test_refusals(c):
    create = c.client.fine_tuning.jobs.create
    for beta in (0, 2.5, "high"):
        expect_400(lambda: create(training_file=c.file_id, model=BASE, method=dpo_method(beta=beta)),
                   "beta %r" % (beta,), "method.dpo.hyperparameters.beta")
    expect_400(lambda: create(training_file=c.file_id, model=BASE, method=dpo_method(gamma=1)),
               "unknown DPO hyperparameter", "method.dpo.hyperparameters")
    expect_400(lambda: create(training_file=c.file_id, model=BASE,
                              method={"type": "supervised", "supervised": {"hyperparameters": {"beta": 0.1}}}),
               "beta in a supervised job", "method.supervised.hyperparameters")
    expect_400(lambda: create(training_file=c.file_id, model=BASE, method={"type": "dpo", "dpo": {},
                                                                          "supervised": {"hyperparameters": {}}}),
               "a supervised section beside type dpo", "method.supervised")
    err = expect_400(lambda: create(training_file=c.file_id, model=BASE,
                                    method={"type": "reinforcement", "reinforcement": {}}),
                     "reinforcement", "method.type")
    check(err.get("code") == "unsupported_method", "reinforcement: %r" % err)


def test_supervised_file_fails_validation(c):
    j = c.client.fine_tuning.jobs.create(training_file=c.sft_file, model=BASE, method=dpo_method())
    check(j.method.type == "dpo" and j.method.dpo.hyperparameters.beta == "auto", "queued DPO job: %r" % j.method)
    check(j.hyperparameters is None, "a DPO job's top-level hyperparameters: %r" % j.hyperparameters)
    job, _ = wait_job(c.client, j.id, timeout=60)
    check(job.status == "failed" and job.error.param == "training_file" and "line 1" in (job.error.message or ""),
          "a chat file for a DPO job: %s %r" % (job.status, job.error))


def label_margins(c, model):
    """For each training pair: log P(preferred label) - log P(rejected label) where the reply's label
    starts. Plain chat rarely starts with a bare label, so the reply is constrained to the labels
    (response_format: a JSON string enum, `"label"`): the logprobs at the label's first token are
    the model's own renormalised over the allowed tokens (differences unchanged), and P(label) sums
    the listed tokens that start it ('b', 'bill', ...)."""
    fmt = {"type": "json_schema", "json_schema": {"name": "label", "strict": False,
                                                  "schema": {"type": "string", "enum": LABELS}}}
    margins = []
    for p in c.pairs:
        r = c.client.chat.completions.create(model=model, messages=p["input"]["messages"], max_tokens=8,
                                             temperature=0, logprobs=True, top_logprobs=20, response_format=fmt)
        content = r.choices[0].logprobs.content
        check(len(content) >= 2 and content[0].token == '"', "constrained reply %r" % r.choices[0].message.content)
        top = content[1].top_logprobs  # the label's first token
        lp = {}
        for label in LABELS:
            starts = [t.logprob for t in top if t.token and label.startswith(t.token)]
            check(starts, "no token of %r among %r" % (label, top))
            lp[label] = math.log(sum(math.exp(x) for x in starts))
        margins.append(lp[p["preferred_output"][0]["content"]] - lp[p["non_preferred_output"][0]["content"]])
    return margins


def test_dpo_job(c):
    c.base_margins = label_margins(c, BASE)
    j = c.client.fine_tuning.jobs.create(training_file=c.file_id, model=BASE, suffix="dpo", seed=5,
                                         method=dpo_method(beta=BETA, n_epochs=EPOCHS, batch_size=BATCH,
                                                           learning_rate_multiplier=2))
    check(j.method.type == "dpo", "job.method: %r" % j.method)
    job, seen = wait_job(c.client, j.id, timeout=600)
    check(job.status == "succeeded", "DPO job: %s (%r)" % (job.status, job.error))
    hp = job.method.dpo.hyperparameters
    check(hp.beta == BETA and hp.n_epochs == EPOCHS and hp.batch_size == BATCH and hp.learning_rate_multiplier == 2,
          "resolved DPO hyperparameters: %r" % hp)
    check(job.hyperparameters is None, "top-level hyperparameters of a DPO job: %r" % job.hyperparameters)
    events = list(reversed(c.client.fine_tuning.jobs.list_events(j.id, limit=100).data))
    messages = [e.message for e in events]
    check(any(m.startswith("Method: DPO, beta %g" % BETA) for m in messages), "no DPO event: %s" % messages)
    metrics = [e.data for e in events if e.type == "metrics"]
    total = EPOCHS * N_PAIRS // BATCH
    check([m["step"] for m in metrics] == list(range(1, total + 1)), "metrics steps: %s" % metrics)
    for m in metrics:
        for key in ("train_loss", "train_mean_token_accuracy", "total_steps", "train_chosen_reward",
                    "train_rejected_reward", "train_reward_accuracy", "train_reward_margin"):
            check(key in m, "metrics event lacks %s: %r" % (key, m))
        # the event's numbers have 6 significant digits: each is off by up to half a unit of its 6th
        rounding = sum(0.5 * 10 ** (math.floor(math.log10(abs(v))) - 5) for v in (
            m["train_reward_margin"], m["train_chosen_reward"], m["train_rejected_reward"]) if v)
        check(abs(m["train_reward_margin"] - (m["train_chosen_reward"] - m["train_rejected_reward"])) <= rounding,
              "margin is not chosen - rejected: %r" % m)
        check(0 <= m["train_reward_accuracy"] <= 1 and m["train_loss"] > 0, "metrics out of range: %r" % m)
    # a new adapter starts as the base model, the reference: the first step's loss is log 2
    check(abs(metrics[0]["train_loss"] - 0.693147) < 0.02, "first DPO loss %r, expected ~log 2" % metrics[0])
    c.last_loss = metrics[-1]["train_loss"]
    check(metrics[-1]["train_reward_margin"] > 0 and metrics[-1]["train_loss"] < metrics[0]["train_loss"],
          "DPO did not separate the replies: first %r, last %r" % (metrics[0], metrics[-1]))
    ckpts = c.client.fine_tuning.jobs.checkpoints.list(j.id).data
    check(len(ckpts) == EPOCHS and "train_loss" in ckpts[0].metrics.to_dict(), "checkpoints: %r" % ckpts)
    c.model = job.fine_tuned_model
    tuned = label_margins(c, c.model)
    base_mean, tuned_mean = sum(c.base_margins) / N_PAIRS, sum(tuned) / N_PAIRS
    print("    label log-prob margin, preferred - rejected, mean over the pairs: base %.3f, DPO %.3f"
          % (base_mean, tuned_mean))
    check(tuned_mean > base_mean + 0.5, "the DPO model does not prefer the preferred labels more: base %s, DPO %s"
          % (c.base_margins, tuned))
    check(sum(t > b for t, b in zip(tuned, c.base_margins)) >= N_PAIRS * 0.7,
          "the margin rose on too few pairs: base %s, DPO %s" % (c.base_margins, tuned))


def test_dpo_continues_ft_model(c):
    """A DPO job on the ft: model: its reference is that model's adapter, frozen, so its first step
    (the policy still equal to it) has loss log 2 exactly, whereas against the base model the first
    job's adapter already separates the pairs (its last steps' loss was well below log 2)."""
    j = c.client.fine_tuning.jobs.create(training_file=c.file_id, model=c.model, suffix="dpo2", seed=5,
                                         method=dpo_method(n_epochs=1, batch_size=N_PAIRS))
    job, _ = wait_job(c.client, j.id, timeout=300)
    check(job.status == "succeeded", "DPO job on an ft: model: %s (%r)" % (job.status, job.error))
    check(job.method.dpo.hyperparameters.beta == 0.1, "auto beta resolved to %r" % job.method.dpo.hyperparameters)
    events = list(reversed(c.client.fine_tuning.jobs.list_events(j.id, limit=100).data))
    messages = [e.message for e in events]
    check(any("reference model: %s (its adapter, frozen)" % c.model in m for m in messages),
          "no event naming the frozen reference: %s" % messages)
    metrics = [e.data for e in events if e.type == "metrics"]
    # equal up to the bf16 products' dependence on how a pass's rows are packed (~1e-3 nats)
    check(len(metrics) == 1 and abs(metrics[0]["train_loss"] - math.log(2)) < 2e-3
          and abs(metrics[0]["train_reward_margin"]) < 0.01, "first step against the frozen starting adapter: %r"
          % metrics)
    check(c.last_loss < math.log(2) - 0.1, "the first job's adapter should be far from the base model: %r"
          % c.last_loss)


TESTS = [test_refusals, test_supervised_file_fails_validation, test_dpo_job, test_dpo_continues_ft_model]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
