"""test_console_evals.py: the web console's Evaluations pages (Evals API runs) in headless Chromium
through Selenium, against the real `ftune serve` with an API key required.

Checks: an eval created with the official SDK is listed with its criteria; a jsonl run of pasted
rows started from the page's form opens its page and completes there without a reload; its counts
on the page equal the API's result_counts, its output items are paged (10 a page) and equal the
API's list, the "failed" filter shows exactly the API's status=fail items; the pass rate of each
criterion comes with the 95% Wilson interval computed by the page, equal to the `wilson` function of
scripts/reference_eval_metrics.py (read from that file, run here) for 7 of 10, 4 of 10 and the edge
cases; a completions run on tiny-qwen2 started from an eval's page with a JSONL file uploaded by the
form (purpose evals) completes with each answer shown as the API stores it (and equal to a chat
completion's); a queued run is cancelled from the runs list, a running one's counts grow on its page
without a reload until its Cancel button stops it, and a run is deleted from the list. Every page passes
axe-core, Tab reaches every control, and the chart colours keep 3:1 against the background
(test_console.accessibility). Screenshots in build/console-screenshots/ (10-...).

    python3 tests/e2e/test_console_evals.py [test names...]
"""
import ast
import json
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import ROOT, Server, check, run_tests, write_jsonl  # noqa: E402
from test_console import KEY, accessibility, css, go, one, open_browser, select, shot, teardown, text_of, wait_for  # noqa: E402
from test_evals import CRITERIA, SCHEMA  # noqa: E402 (the eval of the Evals API's own test: exact and contains)

BASE = "tiny-qwen2"
# (answer, the row's given output): 4 exact, 3 more containing it (7 of 10 for "contains"), 3 wrong,
# then 2 rows whose item lacks the required answer (errored)
GIVEN = [("Paris", "Paris"), ("4", "4"), ("blue", "blue"), ("cold", "cold"), ("Jupiter", "It is JUPITER"),
         ("8", "8 legs"), ("red", "Red."), ("green", "blue"), ("seven", "6"), ("dog", "cat")]
ITEMS_PAGE = 10
LONG_ROWS = 4000  # x 200 tokens on tiny-qwen2: a run that lasts minutes even on a quiet machine (it is cancelled)


class Ctx:
    pass


def reference_wilson():
    """The `wilson` function (and its Z) of scripts/reference_eval_metrics.py, taken from that file's
    source and run here (the script itself prints every reference value when run)."""
    path = os.path.join(ROOT, "scripts", "reference_eval_metrics.py")
    tree = ast.parse(open(path).read(), path)
    keep = [n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name == "wilson") or
            (isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "Z" for t in n.targets))]
    check(len(keep) == 2, "wilson and Z not found in %s" % path)
    env = {"math": math}
    exec(compile(ast.Module(body=keep, type_ignores=[]), path, "exec"), env)
    return env["wilson"]


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-console-evals-")
    c.server = Server(os.path.join(c.tmp, "data"), api_key=KEY).start()
    c.client = c.server.client()
    c.eval = c.client.evals.create(name="capitals", data_source_config={"type": "custom", "item_schema": SCHEMA,
                                                                        "include_sample_schema": True},
                                   testing_criteria=CRITERIA)
    open_browser(c)
    c.driver.get(c.server.base_url + "/#/evals")
    c.driver.execute_script("sessionStorage.setItem('ftune.apiKey', arguments[0])", KEY)
    c.driver.refresh()
    return c


def set_value(c, sel, text):
    c.driver.execute_script("arguments[0].value = arguments[1]", one(c, sel), text)


def status_of(c):
    return text_of(c, "h1 .status")


def wait_run_page(c, timeout=60):
    wait_for(c, lambda: "/runs/" in c.driver.current_url, "the run's page")
    run_id = c.driver.current_url.split("/runs/")[1]
    wait_for(c, lambda: status_of(c) in ("completed", "failed", "canceled"), "the run to finish on its page", timeout)
    return run_id


def shown_rows(c):
    return [int(r.get_attribute("data-row")) for r in css(c, "#items-table tbody tr")]


def test_evals_list(c):
    go(c, "#/evals")
    row = wait_for(c, lambda: css(c, "#evals-table tr[data-eval='%s']" % c.eval.id), "the eval in the list")[0]
    check("capitals" in row.text and "exact: string_check eq" in row.text and "contains: string_check ilike" in row.text,
          "eval row %r" % row.text)
    wait_for(c, lambda: css(c, "#run-form"), "the run form")
    accessibility(c, "evals list")
    shot(c, "10-evals-list")


def test_jsonl_run_from_page(c):
    rows = [{"item": {"question": "q%d" % i, "answer": a}, "sample": {"output_text": s}} for i, (a, s) in enumerate(GIVEN)]
    rows += [{"item": {"question": "no answer %d" % i}, "sample": {"output_text": "x"}} for i in range(2)]
    go(c, "#/evals")
    select(c, "#run-eval", c.eval.id)
    select(c, "#run-type", "jsonl")
    check(not one(c, "#run-generation").is_displayed(), "the generation fields are shown for a jsonl run")
    select(c, "#run-source", "paste")
    set_value(c, "#run-rows", json.dumps(rows[0]) + "\n{not json\n")
    one(c, "#run-start").click()
    refused = wait_for(c, lambda: text_of(c, "#run-form-result [role=alert]"), "the pasted rows' error")
    check("line 2: not JSON" in refused, "the error does not name line 2: %r" % refused)
    set_value(c, "#run-rows", "\n".join(json.dumps(r) for r in rows))
    one(c, "#run-name").send_keys("given answers")
    c.driver.execute_script("window.__noReload = 1")
    one(c, "#run-start").click()
    run_id = wait_run_page(c)
    check(c.driver.execute_script("return window.__noReload") == 1, "the page was reloaded")
    check(status_of(c) == "completed", "status on the page: %r" % status_of(c))
    run = c.client.evals.runs.retrieve(run_id, eval_id=c.eval.id)
    rc = run.result_counts
    shown = one(c, "#run-counts")
    got = tuple(int(shown.get_attribute("data-" + k)) for k in ("total", "passed", "failed", "errored"))
    check(got == (rc.total, rc.passed, rc.failed, rc.errored) == (12, 4, 6, 2), "counts on the page %s, API %s" % (got, rc))
    bar = one(c, "#run-summary svg.counts-bar")
    check(int(bar.get_attribute("data-passed")) == 4 and len(bar.find_elements("css selector", "rect.seg")) == 3, "the counts bar")
    # the items, paged, equal the API's
    api_items = list(c.client.evals.runs.output_items.list(run_id, eval_id=c.eval.id, limit=100))
    wait_for(c, lambda: len(shown_rows(c)) == ITEMS_PAGE, "a first page of %d items" % ITEMS_PAGE)
    first = shown_rows(c)
    item0 = css(c, "#items-table tbody tr")[0]
    check("Paris" in item0.find_element("css selector", ".answer").text and
          [g.text for g in item0.find_elements("css selector", "td.grade")] == ["pass (score 1.000)", "pass (score 1.000)"],
          "the first item: %r" % item0.text)
    one(c, "#items-next").click()
    wait_for(c, lambda: "page 2" in one(c, "#items-page").text and shown_rows(c) != first, "the second page")
    check(not one(c, "#items-next").is_enabled(), "a third page is offered")
    errored = [r.get_attribute("data-status") for r in css(c, "#items-table tbody tr")]
    check(errored == ["errored", "errored"] and "invalid_item" in text_of(c, "#items-table .error"), "errored rows: %r" % errored)
    check(first + shown_rows(c) == [i.datasource_item_id for i in api_items], "items %s, API %s" %
          (first + shown_rows(c), [i.datasource_item_id for i in api_items]))
    one(c, "#items-prev").click()
    wait_for(c, lambda: shown_rows(c) == first, "the first page again")
    # the failed ones: exactly the API's status=fail list
    select(c, "#items-filter", "fail")
    want = [i.datasource_item_id for i in c.client.evals.runs.output_items.list(run_id, eval_id=c.eval.id, status="fail")]
    wait_for(c, lambda: shown_rows(c) == want, "the failed items %s (shown %s)" % (want, shown_rows(c)))
    check(len(want) == rc.failed + rc.errored and all(r.get_attribute("data-status") in ("fail", "errored")
                                                      for r in css(c, "#items-table tbody tr")), "fail filter")
    shot(c, "11-eval-run-jsonl")
    # pass rates with the Wilson interval: the page's against the reference script's
    wilson = reference_wilson()
    per = {p.testing_criteria: (p.passed, p.passed + p.failed) for p in run.per_testing_criteria_results}
    check(per == {"exact": (4, 10), "contains": (7, 10)}, "per criterion: %s" % per)
    for name, (k, n) in per.items():
        tr = one(c, "#run-rates tr[data-criterion='%s']" % name)
        lo, hi = float(tr.get_attribute("data-lo")), float(tr.get_attribute("data-hi"))
        want_lo, want_hi = wilson(k, n)
        check(abs(lo - want_lo) < 1e-12 and abs(hi - want_hi) < 1e-12, "%s: page [%r, %r], reference [%r, %r]" %
              (name, lo, hi, want_lo, want_hi))
        check("%.1f%%" % (100 * want_lo) in tr.text, "%s row %r" % (name, tr.text))
    bars = css(c, "#run-chart-pass-rates rect.bar")
    check([float(b.get_attribute("data-value")) for b in bars] == [0.4, 0.7], "pass-rate bars")
    check(abs(float(bars[1].get_attribute("data-hi")) - wilson(7, 10)[1]) < 1e-12, "the chart's interval")
    for k, n in ((7, 10), (0, 5), (5, 5), (1, 3), (123, 400)):
        page = c.driver.execute_script("return wilson(arguments[0], arguments[1])", k, n)
        ref = wilson(k, n)
        check(abs(page[0] - ref[0]) < 1e-12 and abs(page[1] - ref[1]) < 1e-12, "wilson(%d, %d): page %s, reference %s" % (k, n, page, ref))
    accessibility(c, "run")
    c.jsonl_run = run_id


def test_completions_run_from_page(c):
    path = write_jsonl(os.path.join(c.tmp, "questions.jsonl"),
                       [{"item": {"question": "What is %d + %d?" % (i, i), "answer": str(2 * i)}} for i in range(4)])
    go(c, "#/evals/" + c.eval.id)
    wait_for(c, lambda: "capitals" in text_of(c, "h1"), "the eval's page")
    wait_for(c, lambda: css(c, "#runs-table, #runs-list p"), "the runs list")
    check(one(c, "#run-eval").get_attribute("value") == c.eval.id, "the form is not on this eval")
    select(c, "#run-type", "completions")
    select(c, "#run-source", "upload")
    one(c, "#run-file").send_keys(path)
    select(c, "#run-model", BASE)
    set_value(c, "#run-system", "You answer briefly.")
    set_value(c, "#run-user", "{{item.question}}")
    one(c, "#run-max-tokens").clear()
    one(c, "#run-max-tokens").send_keys("4")
    one(c, "#run-seed").send_keys("3")
    one(c, "#run-start").click()
    run_id = wait_run_page(c, timeout=90)
    check(status_of(c) == "completed", "status %r" % status_of(c))
    run = c.client.evals.runs.retrieve(run_id, eval_id=c.eval.id)
    check(run.model == BASE and run.data_source.type == "completions", "run %s" % run)
    sp = run.data_source.sampling_params
    check(sp.max_completion_tokens == 4 and sp.seed == 3 and sp.temperature == 0, "sampling params %s" % sp)
    tmpl = run.data_source.input_messages.template
    check([(m.role, m.content) for m in tmpl] == [("system", "You answer briefly."), ("user", "{{item.question}}")], "template %s" % tmpl)
    check(run.data_source.source.type == "file_id", "source %s" % run.data_source.source)
    f = c.client.files.retrieve(run.data_source.source.id)
    check(f.purpose == "evals" and f.filename == "questions.jsonl", "uploaded file %s" % f)
    items = list(c.client.evals.runs.output_items.list(run_id, eval_id=c.eval.id))
    wait_for(c, lambda: len(shown_rows(c)) == 4, "4 items")
    norm = lambda t: " ".join(t.split())  # noqa: E731 (the page shows the text with its white space collapsed)
    answers = [norm(e.text) for e in css(c, "#items-table .answer")]
    check(run.result_counts.errored == 0, "errored rows: %s" % [i.sample.error for i in items])
    for it in items:  # each answer as a chat completion of the same messages and parameters gives it
        q = it.datasource_item["question"]
        direct = c.client.chat.completions.create(model=BASE, messages=[{"role": "system", "content": "You answer briefly."},
                                                                        {"role": "user", "content": q}],
                                                  temperature=0, max_completion_tokens=4, seed=3)
        check(it.sample.output[0].content == direct.choices[0].message.content, "row %d: %r, a chat completion %r" %
              (it.datasource_item_id, it.sample.output[0].content, direct.choices[0].message.content))
    check(answers == [norm(i.sample.output[0].content) if i.sample.output else "" for i in items],
          "answers on the page %r, API %r" % (answers, [i.sample.output for i in items]))
    u = run.per_model_usage[0]
    usage = text_of(c, "#run-summary")
    check("%s: 4 calls, %d prompt + %d completion tokens" % (BASE, u.prompt_tokens, u.completion_tokens) in usage, "usage %r" % usage)
    shot(c, "12-eval-run-completions")


def test_live_cancel_and_delete(c):
    """Two long runs: the second waits behind the first (one run at a time) and is cancelled from the
    runs list; the first's counts grow on its page without a reload, and its Cancel button stops it."""
    rows = [{"item": {"question": "Count to one hundred, slowly. %d" % i, "answer": "x"}} for i in range(LONG_ROWS)]
    long_ds = {"type": "completions", "model": BASE, "input_messages": {"type": "template", "template": [
        {"role": "user", "content": "{{item.question}}"}]}, "sampling_params": {"max_completion_tokens": 200},
        "source": {"type": "file_content", "content": rows}}
    running = c.client.evals.runs.create(c.eval.id, name="long", data_source=long_ds)
    queued = c.client.evals.runs.create(c.eval.id, name="behind it", data_source=long_ds)
    go(c, "#/evals/" + c.eval.id)
    sel = "#runs-table tr[data-run='%s']"
    row = wait_for(c, lambda: css(c, sel % queued.id), "the queued run in the list")[0]
    check(row.get_attribute("data-status") == "queued", "the second run is %s" % row.get_attribute("data-status"))
    row.find_element("css selector", "button.run-cancel").click()
    wait_for(c, lambda: css(c, sel % queued.id)[0].get_attribute("data-status") == "canceled", "the queued run cancelled")
    check(c.client.evals.runs.retrieve(queued.id, eval_id=c.eval.id).status == "canceled", "the API does not say canceled")
    c.driver.execute_script("window.__noReload = 1")
    listed = lambda: int(css(c, (sel % running.id) + " svg.counts-bar")[0].get_attribute("data-total"))  # noqa: E731
    first = wait_for(c, lambda: listed() >= 1 and listed(), "the long run's first rows in the list", timeout=60)
    shot(c, "13-eval-runs-live")
    css(c, sel % running.id)[0].find_element("css selector", "a").click()
    wait_for(c, lambda: running.id in text_of(c, "h1"), "the long run's page")
    counted = lambda: int(one(c, "#run-counts").get_attribute("data-total"))  # noqa: E731
    now = wait_for(c, lambda: counted() > first and counted(), "more rows counted on the run's page")
    wait_for(c, lambda: counted() > now, "the count growing on the run's page")
    check(status_of(c) == "in_progress" and c.driver.execute_script("return window.__noReload") == 1,
          "the run's page: %s, reloaded: %s" % (status_of(c), c.driver.execute_script("return window.__noReload")))
    check(len(shown_rows(c)) == ITEMS_PAGE, "the running run's first page of items")
    one(c, "#run-cancel").click()
    wait_for(c, lambda: status_of(c) == "canceled", "the running run cancelled on its page")
    got = c.client.evals.runs.retrieve(running.id, eval_id=c.eval.id)
    check(got.status == "canceled" and got.result_counts.total < LONG_ROWS, "the long run: %s %s" % (got.status, got.result_counts))
    go(c, "#/evals/" + c.eval.id)
    wait_for(c, lambda: css(c, sel % queued.id), "the runs list again")
    css(c, sel % queued.id)[0].find_element("css selector", "button.run-delete").click()
    wait_for(c, lambda: not css(c, sel % queued.id), "the deleted run gone from the list")
    ids = [r.id for r in c.client.evals.runs.list(c.eval.id)]
    check(queued.id not in ids and running.id in ids, "runs after the delete: %s" % ids)
    check(len(css(c, "#runs-table tbody tr")) == len(ids), "the list shows %d runs, the API %d" % (len(css(c, "#runs-table tbody tr")), len(ids)))
    accessibility(c, "eval")  # with every run finished: no redraw moves the focus while Tab walks the page
    shot(c, "14-eval-runs")


if __name__ == "__main__":
    run_tests([test_evals_list, test_jsonl_run_from_page, test_completions_run_from_page, test_live_cancel_and_delete],
              setup=setup, teardown=teardown)
