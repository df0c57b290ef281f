"""test_evals.py: the Evals API (/v1/evals, runs, output items) and the graders endpoints through the
real `ftune serve` and the official openai SDK, on SmolLM2-135M-Instruct. An eval with a custom item
schema and string_check / text_similarity criteria; evals listed, retrieved, updated, deleted; a
jsonl run (inline rows with their samples, and an uploaded file) whose counts equal the ones this
script computes itself (rapidfuzz's ratio for fuzzy_match when it is installed); a completions run
whose every answer equals a chat completion of the same messages with the same sampling parameters
(one generation path) and whose pass/fail follows from those answers; per_model_usage equal to the
chat completions' usage; output items filtered by status and paged; a canceled run; a run resumed
after a restart with each row graded once; `ftune eval --record` writing a model's answers through
the server as a held-out set (equal to chat completions; the model scores 100% against it); `ftune eval --via-evals-api` giving
the direct path's predictions and accuracy (free text and --labels); graders.run and graders.validate; and the requests ftune
refuses with a 400 naming the field. Plain script: `python3 tests/e2e/test_evals.py`.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402

from serve_util import BINARY, MODELS, Server, check, run_tests  # noqa: E402

BASE = "SmolLM2-135M-Instruct.Q4_1"
SCHEMA = {"type": "object", "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
          "required": ["question", "answer"]}
CRITERIA = [
    {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
     "operation": "eq"},
    {"type": "string_check", "name": "contains", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
     "operation": "ilike"},
]
QUESTIONS = [("What is the capital of France? Answer with one word.", "Paris"),
             ("What is 2 + 2? Answer with a number only.", "4"),
             ("What color is the sky on a clear day? One word.", "blue"),
             ("Name the largest planet in the solar system. One word.", "Jupiter"),
             ("What is the opposite of hot? One word.", "cold"),
             ("How many legs does a spider have? Answer with a number.", "8")]
SYSTEM = "You answer briefly."
SAMPLING = {"temperature": 0, "max_completion_tokens": 12, "seed": 7}


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-evals-")
    c.data = os.path.join(c.tmp, "data")
    c.server = Server(c.data).start()
    c.client = c.server.client()
    return c


def teardown(c):
    c.server.stop()
    shutil.rmtree(c.tmp, ignore_errors=True)


def wait_run(c, eval_id, run_id, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = c.client.evals.runs.retrieve(run_id, eval_id=eval_id)
        if r.status in ("completed", "failed", "canceled"):
            return r
        time.sleep(0.2)
    raise AssertionError("run %s did not finish: %s" % (run_id, r.status))


def items(c, eval_id, run_id, **kw):
    return list(c.client.evals.runs.output_items.list(run_id, eval_id=eval_id, **kw))


def expect_400(fn, param, what):
    try:
        fn()
    except openai.BadRequestError as e:
        got = (e.body or {}).get("param")
        check(got == param, "%s: 400 names %r, expected %r (%s)" % (what, got, param, e.message))
        return
    raise AssertionError("%s was accepted" % what)


def test_eval_crud(c):
    e = c.client.evals.create(name="capitals", metadata={"team": "a"},
                              data_source_config={"type": "custom", "item_schema": SCHEMA,
                                                  "include_sample_schema": True},
                              testing_criteria=CRITERIA)
    check(e.object == "eval" and e.id.startswith("eval_") and e.name == "capitals", "create: %s" % e)
    dsc = e.data_source_config
    check(dsc.type == "custom" and dsc.schema_["properties"]["item"] == SCHEMA and
          dsc.schema_["required"] == ["item", "sample"], "the data source config: %s" % dsc)
    check([t.name for t in e.testing_criteria] == ["exact", "contains"], "criteria: %s" % e.testing_criteria)
    c.eval_id = e.id
    other = c.client.evals.create(data_source_config={"type": "custom", "item_schema": SCHEMA},
                                  testing_criteria=[CRITERIA[0]])
    ids = [x.id for x in c.client.evals.list(order="asc")]
    check(ids[-2:] == [e.id, other.id], "list asc: %s" % ids)
    page = c.client.evals.list(limit=1, order="desc")
    check(page.data[0].id == other.id and page.has_more, "list desc limit 1: %s" % page)
    got = c.client.evals.retrieve(e.id)
    check(got.metadata == {"team": "a"} and got.created_at == e.created_at, "retrieve: %s" % got)
    upd = c.client.evals.update(e.id, name="capitals v2")
    check(upd.name == "capitals v2" and c.client.evals.retrieve(e.id).name == "capitals v2", "update: %s" % upd)
    d = c.client.evals.delete(other.id)
    check(d.deleted and d.eval_id == other.id, "delete: %s" % d)
    try:
        c.client.evals.retrieve(other.id)
        raise AssertionError("a deleted eval is still found")
    except openai.NotFoundError:
        pass


def expected(answer_text, answer):
    return [answer_text == answer, answer.lower() in answer_text.lower()]


def check_counts(run, outcomes):
    passed = sum(all(o) for o in outcomes)
    rc = run.result_counts
    check((rc.total, rc.passed, rc.failed, rc.errored) == (len(outcomes), passed, len(outcomes) - passed, 0),
          "result_counts %s, expected %d of %d passed" % (rc, passed, len(outcomes)))
    per = {p.testing_criteria: (p.passed, p.failed) for p in run.per_testing_criteria_results}
    for i, name in enumerate(["exact", "contains"]):
        k = sum(o[i] for o in outcomes)
        check(per.get(name) == (k, len(outcomes) - k), "%s: %s, expected %d passed" % (name, per.get(name), k))


def test_jsonl_inline(c):
    answers = ["Paris", "four", "The sky is Blue.", "Jupiter", "", "8 legs"]
    rows = [{"item": {"question": q, "answer": a}, "sample": {"output_text": s}}
            for (q, a), s in zip(QUESTIONS, answers)]
    run = c.client.evals.runs.create(c.eval_id, name="given answers",
                                     data_source={"type": "jsonl", "source": {"type": "file_content", "content": rows}})
    check(run.object == "eval.run" and run.status in ("queued", "in_progress", "completed"), "create: %s" % run)
    run = wait_run(c, c.eval_id, run.id)
    check(run.status == "completed", "status %s: %s" % (run.status, run.error))
    outcomes = [expected(s, a) for (q, a), s in zip(QUESTIONS, answers)]
    check_counts(run, outcomes)
    got = items(c, c.eval_id, run.id)
    check([i.datasource_item_id for i in got] == list(range(6)), "items in order: %s" % [i.datasource_item_id for i in got])
    for i, o in zip(got, outcomes):
        check(i.status == ("pass" if all(o) else "fail") and [r.passed for r in i.results] == o,
              "item %d: %s %s, expected %s" % (i.datasource_item_id, i.status, i.results, o))
    passing = items(c, c.eval_id, run.id, status="pass")
    check(len(passing) == sum(all(o) for o in outcomes), "status=pass filter: %d" % len(passing))
    one = c.client.evals.runs.output_items.retrieve(got[2].id, eval_id=c.eval_id, run_id=run.id)
    check(one.datasource_item == rows[2]["item"], "retrieve an output item: %s" % one)
    # the same rows from an uploaded file give the same counts
    path = os.path.join(c.tmp, "rows.jsonl")
    with open(path, "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    with open(path, "rb") as f:
        fid = c.client.files.create(file=f, purpose="evals").id
    run2 = wait_run(c, c.eval_id, c.client.evals.runs.create(
        c.eval_id, data_source={"type": "jsonl", "source": {"type": "file_id", "id": fid}}).id)
    check(run2.status == "completed", "file run: %s %s" % (run2.status, run2.error))
    check_counts(run2, outcomes)
    runs = [r.id for r in c.client.evals.runs.list(c.eval_id)]
    check(runs == [run.id, run2.id], "runs list: %s" % runs)


def completions_source(n, sampling=SAMPLING):
    rows = [{"item": {"question": q, "answer": a}} for q, a in QUESTIONS[:n]]
    return {"type": "completions", "model": BASE,
            "input_messages": {"type": "template", "template": [
                {"role": "system", "content": SYSTEM}, {"role": "user", "content": "{{item.question}}"}]},
            "sampling_params": sampling, "source": {"type": "file_content", "content": rows}}


def test_completions_run(c):
    run = c.client.evals.runs.create(c.eval_id, name="smollm2", data_source=completions_source(len(QUESTIONS)))
    run = wait_run(c, c.eval_id, run.id)
    check(run.status == "completed" and run.model == BASE, "status %s: %s" % (run.status, run.error))
    got = items(c, c.eval_id, run.id)
    check(len(got) == len(QUESTIONS), "%d items" % len(got))
    outcomes, prompt, completion = [], 0, 0
    for it, (q, a) in zip(got, QUESTIONS):
        direct = c.client.chat.completions.create(model=BASE, messages=[{"role": "system", "content": SYSTEM},
                                                                        {"role": "user", "content": q}], **SAMPLING)
        text = direct.choices[0].message.content
        out = it.sample.output[0].content
        check(out == text, "row %d: the run answered %r, a chat completion %r" % (it.datasource_item_id, out, text))
        check(it.sample.usage.prompt_tokens == direct.usage.prompt_tokens and
              it.sample.usage.completion_tokens == direct.usage.completion_tokens, "row usage %s" % it.sample.usage)
        prompt += direct.usage.prompt_tokens
        completion += direct.usage.completion_tokens
        outcomes.append(expected(text, a))
    check_counts(run, outcomes)
    u = run.per_model_usage[0]
    check(u.model_name == BASE and u.invocation_count == len(QUESTIONS) and u.prompt_tokens == prompt and
          u.completion_tokens == completion, "per_model_usage %s, expected %d / %d" % (u, prompt, completion))
    check(sum(o[1] for o in outcomes) >= 3, "the model answered fewer than 3 right: %s" % outcomes)


def test_cancel(c):
    many = completions_source(len(QUESTIONS), {"temperature": 0, "max_completion_tokens": 200})
    many["source"]["content"] = many["source"]["content"] * 10
    run = c.client.evals.runs.create(c.eval_id, data_source=many)
    time.sleep(0.5)
    canceled = c.client.evals.runs.cancel(run.id, eval_id=c.eval_id)
    check(canceled.status == "canceled", "cancel answered %s" % canceled.status)
    time.sleep(0.5)
    again = c.client.evals.runs.retrieve(run.id, eval_id=c.eval_id)
    check(again.status == "canceled" and again.result_counts.total < 60, "after cancel: %s %s" % (again.status, again.result_counts))
    d = c.client.evals.runs.delete(run.id, eval_id=c.eval_id)
    check(d.deleted, "delete run: %s" % d)


def test_resume_after_restart(c):
    src = completions_source(len(QUESTIONS), {"temperature": 0, "max_completion_tokens": 48})
    src["source"]["content"] = src["source"]["content"] * 6
    run = c.client.evals.runs.create(c.eval_id, data_source=src)
    deadline = time.time() + 120
    while time.time() < deadline:
        r = c.client.evals.runs.retrieve(run.id, eval_id=c.eval_id)
        if r.result_counts.total >= 1 or r.status == "completed":
            break
        time.sleep(0.02)
    c.server.stop()
    check(r.status == "in_progress" and 0 < r.result_counts.total < 36,
          "the run was not stopped midway: %s %s" % (r.status, r.result_counts))
    c.server.start()
    c.client = c.server.client()
    r = wait_run(c, c.eval_id, run.id)
    check(r.status == "completed" and r.result_counts.total == 36, "after restart: %s %s" % (r.status, r.result_counts))
    got = items(c, c.eval_id, run.id, limit=100)
    check(sorted(i.datasource_item_id for i in got) == list(range(36)), "each row once: %s" % [i.datasource_item_id for i in got])


def test_record(c):
    """ftune eval --record: a model's answers through the server, written as a held-out set."""
    prompts = os.path.join(c.tmp, "prompts.jsonl")
    with open(prompts, "w") as f:
        for i, (q, a) in enumerate(QUESTIONS[:4]):
            msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}]
            if i % 2:  # an example that ends with an answer: replaced by the one recorded
                msgs.append({"role": "assistant", "content": "old answer"})
            f.write(json.dumps({"messages": msgs}) + "\n")
    out = os.path.join(c.tmp, "recorded.jsonl")
    base = ["--candidate", "hosted", "--model", BASE, "--base-url", c.server.base_url + "/v1", "--max-tokens", "12"]
    p = subprocess.run([BINARY, "eval", "--data", prompts, "--record", out] + base, capture_output=True, text=True,
                       timeout=300)
    check(p.returncode == 0 and "recorded 4 answers" in p.stderr, "eval --record (%d): %s" % (p.returncode, p.stderr))
    lines = [json.loads(x) for x in open(out)]
    check(len(lines) == 4, "%d lines recorded" % len(lines))
    for (q, a), line in zip(QUESTIONS, lines):
        msgs = line["messages"]
        prompt = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}]
        direct = c.client.chat.completions.create(model=BASE, messages=prompt, temperature=0, max_tokens=12)
        check(msgs[:2] == prompt and msgs[2] == {"role": "assistant", "content": direct.choices[0].message.content}
              and len(msgs) == 3, "recorded %s, a chat completion answered %r" % (msgs, direct.choices[0].message.content))
    # the same model judged against its own recorded answers: every one right
    report = os.path.join(c.tmp, "self.json")
    p = subprocess.run([BINARY, "eval", "--data", out, "--json", report] + base, capture_output=True, text=True,
                       timeout=300)
    check(p.returncode == 0, "eval on the recorded set (%d): %s" % (p.returncode, p.stderr))
    acc = json.load(open(report))["candidates"][0]["accuracy"]
    check(acc["correct"] == 4 and acc["n"] == 4, "the model against its own answers: %s" % acc)
    p = subprocess.run([BINARY, "eval", "--data", prompts, "--record", out] + base + ["--candidate", "b", "--model", BASE],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 2 and "exactly one candidate" in p.stderr, "two candidates with --record: %s" % p.stderr)


def test_eval_via_api(c):
    """ftune eval --via-evals-api: the same numbers as the direct path, given the same answers."""
    held = os.path.join(c.tmp, "held.jsonl")
    with open(held, "w") as f:
        for q, a in QUESTIONS:
            f.write(json.dumps({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q},
                                             {"role": "assistant", "content": a}]}) + "\n")
    labels = os.path.join(c.tmp, "labels.jsonl")
    with open(labels, "w") as f:
        for a in ["Paris", "4", "blue", "Jupiter", "cold", "8", "London"]:
            f.write(json.dumps({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": a}]}) + "\n")
    url = c.server.base_url + "/v1"
    cands = ["--candidate", "free", "--model", BASE, "--base-url", url,
             "--candidate", "labels", "--model", BASE, "--base-url", url, "--labels", labels]
    reports = []
    for extra in ([], ["--via-evals-api"]):
        out = os.path.join(c.tmp, "via%d.json" % len(reports))
        p = subprocess.run([BINARY, "eval", "--data", held, "--max-tokens", "16", "--json", out] + cands + extra,
                           capture_output=True, text=True, timeout=300)
        check(p.returncode == 0, "ftune eval %s (%d): %s" % (extra, p.returncode, p.stderr))
        reports.append(json.load(open(out)))
    direct, via = reports
    for k in range(2):
        dp = [e["results"][k]["prediction"] for e in direct["examples"]]
        vp = [e["results"][k]["prediction"] for e in via["examples"]]
        check(dp == vp, "candidate %d: direct %s, via the Evals API %s" % (k, dp, vp))
        da, va = direct["candidates"][k]["accuracy"], via["candidates"][k]["accuracy"]
        check(da == va, "candidate %d accuracy: direct %s, via the Evals API %s" % (k, da, va))
        check(direct["candidates"][k]["mean_prompt_tokens"] == via["candidates"][k]["mean_prompt_tokens"],
              "prompt tokens differ")
    names = [e.name for e in c.client.evals.list(limit=100)]
    check("ftune eval: labels" in names, "the eval it ran is not listed: %s" % names)


def test_graders_endpoints(c):
    g = {"type": "text_similarity", "name": "sim", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
         "evaluation_metric": "fuzzy_match"}
    r = c.client.fine_tuning.alpha.graders.run(grader=g, model_sample="Pariss", item={"answer": "Paris"})
    try:
        from rapidfuzz import fuzz
        want = fuzz.ratio("Pariss", "Paris") / 100
    except ImportError:  # Indel similarity by hand: 1 - (6 + 5 - 2 * 5) / 11
        want = 1 - 1 / 11
    check(abs(r.reward - want) < 1e-9, "fuzzy_match reward %s, expected %s" % (r.reward, want))
    r = c.client.fine_tuning.alpha.graders.run(grader=CRITERIA[1], model_sample="it is PARIS", item={"answer": "Paris"})
    check(r.reward == 1.0 and r.metadata.type == "string_check", "ilike: %s" % r)
    v = c.client.fine_tuning.alpha.graders.validate(grader=CRITERIA[0])
    check(v.grader.name == "exact", "validate: %s" % v)
    expect_400(lambda: c.client.fine_tuning.alpha.graders.validate(grader={"type": "python", "name": "p", "source": "x"}),
               "grader.type", "a python grader")


def test_refusals(c):
    cfg = {"type": "custom", "item_schema": SCHEMA}
    expect_400(lambda: c.client.evals.create(data_source_config=cfg, testing_criteria=[
        {"type": "label_model", "name": "l", "model": "m", "input": [], "labels": [], "passing_labels": []}]),
        "testing_criteria[0].type", "a label_model grader")
    bad = dict(CRITERIA[0], operation="like_ish")
    expect_400(lambda: c.client.evals.create(data_source_config=cfg, testing_criteria=[bad]),
               "testing_criteria[0].operation", "an unknown operation")
    sim = {"type": "text_similarity", "name": "s", "input": "x", "reference": "y", "evaluation_metric": "meteor",
           "pass_threshold": 0.5}
    expect_400(lambda: c.client.evals.create(data_source_config=cfg, testing_criteria=[sim]),
               "testing_criteria[0].evaluation_metric", "an unsupported metric")
    nothr = dict(sim, evaluation_metric="bleu")
    del nothr["pass_threshold"]
    expect_400(lambda: c.client.evals.create(data_source_config=cfg, testing_criteria=[nothr]),
               "testing_criteria[0].pass_threshold", "text_similarity without pass_threshold")
    tmpl = dict(CRITERIA[0], input="{{answer}}")
    expect_400(lambda: c.client.evals.create(data_source_config=cfg, testing_criteria=[tmpl]),
               "testing_criteria[0].input", "a template naming neither item nor sample")
    expect_400(lambda: c.client.evals.create(data_source_config={"type": "logs"}, testing_criteria=[CRITERIA[0]]),
               "data_source_config.type", "a logs data source")
    expect_400(lambda: c.client.evals.create(data_source_config=cfg, testing_criteria=[CRITERIA[0]],
                                             extra_body={"colour": "red"}), "colour", "an unknown field")
    src = completions_source(2)
    src["model"] = "no-such-model"
    try:
        c.client.evals.runs.create(c.eval_id, data_source=src)
        raise AssertionError("a run on a missing model was accepted")
    except openai.NotFoundError as e:
        check(e.body.get("param") == "model", "missing model: %s" % e.body)
    src = completions_source(2, dict(SAMPLING, tools=[{"type": "function", "function": {"name": "f"}}]))
    expect_400(lambda: c.client.evals.runs.create(c.eval_id, data_source=src), "data_source.sampling_params.tools", "tools")
    expect_400(lambda: c.client.evals.runs.create(c.eval_id, data_source={"type": "jsonl", "source": {
        "type": "file_id", "id": "file-nope"}}), "data_source.source.id", "a missing file")
    expect_400(lambda: c.client.evals.runs.create(c.eval_id, data_source={"type": "responses", "source": {
        "type": "file_content", "content": []}}), "data_source.type", "a responses data source")
    expect_400(lambda: c.client.evals.runs.create(c.eval_id, data_source={"type": "jsonl", "source": {
        "type": "file_content", "content": [{"item": "x"}]}}), "data_source.source.content[0].item", "an item that is no object")
    # a row missing a required field is errored, not failed
    run = c.client.evals.runs.create(c.eval_id, data_source={"type": "jsonl", "source": {
        "type": "file_content", "content": [{"item": {"question": "q"}, "sample": {"output_text": "x"}},
                                            {"item": {"question": "q", "answer": "x"}, "sample": {"output_text": "x"}},
                                            {"item": {"question": "q", "answer": "x"}}]}})
    run = wait_run(c, c.eval_id, run.id)
    rc = run.result_counts
    check((rc.total, rc.passed, rc.errored) == (3, 1, 2), "errored rows (a missing field, no sample): %s" % rc)


if __name__ == "__main__":
    if not os.path.exists(os.path.join(MODELS, BASE + ".gguf")):
        print("skipped: models/%s.gguf is missing" % BASE)
        sys.exit(0)
    run_tests([test_eval_crud, test_jsonl_inline, test_completions_run, test_cancel, test_resume_after_restart,
               test_record, test_eval_via_api, test_graders_endpoints, test_refusals], setup, teardown)
