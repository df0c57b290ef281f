"""test_console.py: the web console (`ftune serve` at /) in headless Chromium through Selenium,
against the real server started with an API key required.

Checks: the pages are served without a key (content types, ETag and 304, Content-Security-Policy)
and nothing else is; GET /v1/files/{id}/validation refuses bad parameters naming them and shows no
server path; the page asks for the key when the API answers 401 and works once it is
entered; an uploaded file's validation problems are shown with their lines, its examples as the
model's chat template renders them with the trained text marked (and a file the server refuses,
with its reason); a job created from the page on tiny-qwen2 shows its loss curve
gaining points while it runs, without a reload, and is cancelled with the page's button; a
finished job shows its checkpoints with metrics, and "use in playground" opens the playground on
that checkpoint, where a streamed chat beside the base model shows its text, token counts and
latency; an `ftune eval --json` report opens in the Evaluations page with its charts and confusion
matrices; the console
works on a server that requires no key. Every page
passes axe-core (the axe-selenium-python package, scripts/setup.sh), every control is reached by
the Tab key, the chart colours keep a contrast of 3:1 or more against the background, and the
counts in the heat maps 4.5:1 against their cells.
Screenshots of each page go to build/console-screenshots/ (printed at the end).

    python3 tests/e2e/test_console.py [test names...]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_html_render import start_browser  # noqa: E402
from serve_util import BINARY, MODELS, ROOT, Server, check, run_tests, stop_and_clean, write_jsonl  # noqa: E402

KEY = "console-test-key"
BASE = "tiny-qwen2"
SHOTS = os.path.join(ROOT, "build", "console-screenshots")
WAIT_S = 20.0
TRAIN_EXAMPLES = 40  # x 50 epochs, batch 1: a job that runs long enough to watch and cancel on a fast machine
MIN_CONTRAST = 3.0  # WCAG 2.1 non-text contrast (1.4.11) for the chart lines and bars
MIN_TEXT_CONTRAST = 4.5  # WCAG 2.1 text contrast (1.4.3) for the counts drawn in the heat maps' cells


class Ctx:
    pass


def example(i):
    return {"messages": [{"role": "system", "content": "You answer questions about item colours."},
                         {"role": "user", "content": "What colour is item %d?" % i},
                         {"role": "assistant", "content": "Item %d is %s." % (i, ("red", "blue", "green")[i % 3])}]}


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-console-")
    c.server = Server(os.path.join(c.tmp, "data"), api_key=KEY).start()
    c.client = c.server.client()
    path = write_jsonl(os.path.join(c.tmp, "train.jsonl"), [example(i) for i in range(TRAIN_EXAMPLES)])
    with open(path, "rb") as f:
        c.train_file = c.client.files.create(file=f, purpose="fine-tune").id
    open_browser(c)
    c.url = c.server.base_url + "/"
    return c


def open_browser(c):
    """Headless Chromium as c.driver, 1280 pixels wide; the screenshots' folder made."""
    os.makedirs(SHOTS, exist_ok=True)
    c.driver = start_browser()
    c.driver.set_window_size(1280, 1000)


def teardown(c):
    if c is not None:
        c.driver.quit()
        print("screenshots in", SHOTS)
    stop_and_clean(c)


# ---- browser helpers ----

def wait_for(c, fn, what, timeout=WAIT_S):
    """Polls fn() until it returns a true value (returned); fails naming what after timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 (an element not there yet, a stale one)
            last = e
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last))


def css(c, sel):
    from selenium.webdriver.common.by import By
    return c.driver.find_elements(By.CSS_SELECTOR, sel)


def one(c, sel):
    return wait_for(c, lambda: (css(c, sel) or [None])[0], sel)


def text_of(c, sel):
    return " ".join(e.text for e in css(c, sel))


def go(c, hash_):
    c.driver.execute_script("location.hash = arguments[0]", hash_)


def select(c, sel, value):
    from selenium.webdriver.support.ui import Select
    el = one(c, sel)
    wait_for(c, lambda: any(o.get_attribute("value") == value for o in Select(el).options), "option %s in %s" % (value, sel))
    Select(el).select_by_value(value)


def shot(c, name):
    height = c.driver.execute_script("return document.documentElement.scrollHeight")
    c.driver.set_window_size(1280, min(max(int(height) + 40, 700), 6000))
    path = os.path.join(SHOTS, name + ".png")
    check(c.driver.save_screenshot(path), "could not save " + path)
    c.driver.set_window_size(1280, 1000)


def accessibility(c, page):
    """axe-core on the page (every violation fails), then the page's own checks: Tab reaches every
    enabled control, and the chart colours' contrast against the page background."""
    from axe_selenium_python import Axe
    axe = Axe(c.driver)
    axe.inject()
    found = axe.run()["violations"]
    check(not found, "%s: axe-core: %s" % (page, axe.report(found)))
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    n = c.driver.execute_script("""
        const want = Array.from(document.querySelectorAll('a[href], button:not([disabled]), input, select, textarea, [tabindex="0"]'))
            .filter(e => e.getClientRects().length > 0);
        want.forEach((e, i) => e.setAttribute('data-tabcheck', i));
        window.scrollTo(0, 0);
        if (document.activeElement) document.activeElement.blur();
        return want.length;""")
    reached = set()
    for _ in range(n + 5):
        ActionChains(c.driver).send_keys(Keys.TAB).perform()
        reached.add(c.driver.execute_script("return document.activeElement.getAttribute('data-tabcheck')"))
    not_reached = c.driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-tabcheck]')).filter(e => !arguments[0].includes(e.getAttribute('data-tabcheck')))"
        ".map(e => e.outerHTML.slice(0, 100))", sorted(x for x in reached if x is not None))
    check(not not_reached, "%s: Tab does not reach %s" % (page, not_reached[:5]))
    colours = c.driver.execute_script("""
        const out = [];
        for (const e of document.querySelectorAll('svg.chart polyline, svg.chart rect.bar, svg.chart rect.seg, svg.chart circle.point')) {
            const s = getComputedStyle(e);
            out.push([e.getAttribute('class'), e.tagName === 'polyline' ? s.stroke : s.fill,
                      getComputedStyle(e.closest('svg')).backgroundColor]);
        }
        return out;""")
    colours += c.driver.execute_script("""
        return Array.from(document.querySelectorAll('svg.confusion text.count')).map(t => {
            const cell = t.previousElementSibling;
            return ['count in ' + cell.querySelector('title').textContent, getComputedStyle(t).fill, getComputedStyle(cell).fill];
        });""")
    for cls, fg, bg in colours:
        ratio, want = contrast(fg, bg), MIN_TEXT_CONTRAST if cls.startswith("count") else MIN_CONTRAST
        check(ratio >= want, "%s: chart colour %s of %s has contrast %.2f on %s (< %.1f)" % (page, fg, cls, ratio, bg, want))
    return len(colours)


def contrast(a, b):
    def lum(rgb):
        vals = [int(x) / 255 for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in vals]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# ---- tests ----

def test_pages_served(c):
    for path, ctype in (("/", "text/html"), ("/console/console.js", "text/javascript"), ("/console/evals.js", "text/javascript"),
                        ("/console/console.css", "text/css")):
        status, headers, body = c.server.request("GET", path)
        check(status == 200, "GET %s without a key: %d" % (path, status))
        check(headers.get("content-type", "").startswith(ctype), "GET %s: content-type %r" % (path, headers.get("content-type")))
        check("default-src 'none'" in headers.get("content-security-policy", ""), "GET %s: no CSP %r" % (path, headers))
        check(headers.get("cache-control") == "no-cache" and headers.get("etag"), "GET %s: caching headers %r" % (path, headers))
        status, _, body = c.server.request("GET", path, headers={"If-None-Match": headers["etag"]})
        check(status == 304 and not body, "GET %s with its ETag: %d, %d bytes" % (path, status, len(body)))
    status, _, _ = c.server.request("GET", "/console/missing.js")
    check(status == 404, "GET /console/missing.js: %d" % status)
    for path in ("/console/../ftune.db", "/ftune.db", "/console", "/v1/models"):
        status, _, _ = c.server.request("GET", path)
        check(status == 401, "GET %s without a key: %d, want 401" % (path, status))


def test_validation_endpoint(c):
    """GET /v1/files/{id}/validation: its refusals name the parameter; the report names no server path."""
    bad = [example(i) for i in range(12)]
    bad[2] = {"messages": [{"role": "usr", "content": "x"}, {"role": "assistant", "content": "y"}]}
    bad[5] = {"messages": [{"role": "user", "content": "only a question"}]}
    with open(write_jsonl(os.path.join(c.tmp, "bad-api.jsonl"), bad), "rb") as f:
        fid = c.client.files.create(file=f, purpose="fine-tune").id
    auth = {"Authorization": "Bearer " + KEY}
    for query, param in (("?colour=red", "colour"), ("?preview=2", "preview"), ("?method=rl", "method"),
                         ("?max_problems=-1", "max_problems"), ("?model=" + BASE + "&preview=21", "preview")):
        status, headers, body = c.server.request("GET", "/v1/files/%s/validation%s" % (fid, query), headers=auth)
        check(status == 400 and json.loads(body)["error"]["param"] == param, "%s: %d %s" % (query, status, body[:200]))
    status, _, body = c.server.request("GET", "/v1/files/file-nope/validation", headers=auth)
    check(status == 404, "a missing file: %d" % status)
    status, _, body = c.server.request("GET", "/v1/files/%s/validation?model=nope" % fid, headers=auth)
    check(status == 404 and json.loads(body)["error"]["code"] == "model_not_found", "a missing model: %s" % body[:200])
    status, _, body = c.server.request("GET", "/v1/files/%s/validation?max_problems=1&model=%s" % (fid, BASE), headers=auth)
    rep = json.loads(body)
    check(status == 200 and rep["file"] == fid and rep["errors"] == 2 and len(rep["problems"]) == 1
          and rep["problems_not_listed"] == 1 and rep["problems"][0]["line"] == 3, "report %s" % body[:400])
    check(rep["model"]["id"] == BASE and "path" not in rep["model"] and c.tmp not in body.decode(), "paths: %s" % body[:400])


def test_key_prompt(c):
    c.driver.get(c.url)
    status = one(c, "#key-status")
    wait_for(c, lambda: "requires an API key" in status.text, "the key prompt (got %r)" % status.text)
    check(c.driver.switch_to.active_element.get_attribute("id") == "api-key", "the key field does not have the focus")
    one(c, "#api-key").send_keys(KEY + "\n")
    wait_for(c, lambda: "No jobs yet" in text_of(c, "main"), "the jobs page with the key")
    check(c.driver.execute_script("return sessionStorage.getItem('ftune.apiKey')") == KEY, "the key is not in sessionStorage")
    shot(c, "01-jobs-empty")


def test_upload_validation(c):
    bad = [example(i) for i in range(12)]
    bad[3] = {"messages": [{"role": "usr", "content": "x"}, {"role": "assistant", "content": "y"}]}
    bad[6] = {"messages": [{"role": "user", "content": "only a question"}]}
    path = write_jsonl(os.path.join(c.tmp, "bad.jsonl"), bad)
    go(c, "#/files")
    select(c, "#upload-model", BASE)
    one(c, "#upload-file").send_keys(path)
    one(c, "#upload-form button[type=submit]").click()
    rows = wait_for(c, lambda: css(c, "#validation-problems tbody tr"), "the validation problems")
    got = [(r.find_elements("css selector", "td")[0].text, r.find_elements("css selector", "td")[3].text) for r in rows]
    check(got == [("4", "unknown_role"), ("7", "missing_assistant_message")], "problems shown: %r" % got)
    check("invalid: 2 errors" in one(c, "#validation-verdict").text, "verdict %r" % one(c, "#validation-verdict").text)
    stats = one(c, "#validation-statistics").text
    check("tokens" in stats and "assistant (trained) tokens" in stats, "statistics without token rows: %r" % stats)
    rendered = css(c, "#template-preview .preview-rendered")
    check(len(rendered) == 5, "%d examples rendered through the template, want 5" % len(rendered))
    first = rendered[0].find_element("css selector", "pre").text
    marked = rendered[0].find_element("css selector", "mark").text
    check("<|im_start|>user\nWhat colour is item 0?<|im_end|>" in first, "rendered example: %r" % first)
    check(marked.startswith("Item 0 is red.<|im_end|>"), "trained text: %r" % marked)
    shot(c, "02-files-validation")
    # a file the server refuses at upload (not JSONL): its reason, with the line
    notjson = os.path.join(c.tmp, "notjson.jsonl")
    with open(notjson, "w") as f:
        f.write(json.dumps(example(0)) + "\nthis is not json\n")
    one(c, "#upload-file").send_keys(notjson)
    one(c, "#upload-form button[type=submit]").click()
    refused = wait_for(c, lambda: css(c, "#upload-refused"), "the refused upload")[0].text
    check("line 2" in refused, "the refusal does not name line 2: %r" % refused)
    # the raw preview of the first file's rows (no model chosen)
    select(c, "#upload-model", "")
    wait_for(c, lambda: css(c, "#files-table tbody tr"), "the files table")
    css(c, "#files-table button[aria-label^='Preview']")[0].click()
    wait_for(c, lambda: len(css(c, ".preview-example")) == 5, "five preview examples")
    check("What colour is item 0?" in text_of(c, ".preview-example"), "preview text: %r" % text_of(c, ".preview-example")[:200])
    accessibility(c, "files")


def test_job_curve_and_cancel(c):
    go(c, "#/jobs")
    select(c, "#job-model", BASE)
    select(c, "#job-training-file", c.train_file)
    for sel, v in (("#job-epochs", "50"), ("#job-batch", "1"), ("#job-suffix", "live"), ("#job-metadata", "run=console")):
        el = one(c, sel)
        el.clear()
        el.send_keys(v)
    one(c, "#job-form button[type=submit]").click()
    wait_for(c, lambda: "#/jobs/ftjob-" in c.driver.current_url, "the job's page")
    job_id = c.driver.current_url.split("#/jobs/")[1]
    c.driver.execute_script("window.__noReload = 1")
    points = lambda: len(css(c, "#chart-loss circle.point-train"))  # noqa: E731
    first = wait_for(c, lambda: points() >= 3 and "running" in text_of(c, "h1 .status") and points(), "loss points while running")
    more = wait_for(c, lambda: points() > first + 5 and points(), "more loss points")
    check("running" in text_of(c, "h1 .status"), "the job stopped before the test could watch it")
    check(c.driver.execute_script("return window.__noReload") == 1, "the page was reloaded")
    check(len(css(c, "#chart-accuracy circle.point-train")) > 0, "no accuracy points")
    shot(c, "03-job-running")
    one(c, "#job-pause").click()
    wait_for(c, lambda: "paused" in text_of(c, "h1 .status"), "the paused status")
    one(c, "#job-resume").click()
    wait_for(c, lambda: "paused" not in text_of(c, "h1 .status"), "the resumed status")
    one(c, "#job-cancel").click()
    wait_for(c, lambda: "cancelled" in text_of(c, "h1 .status"), "the cancelled status")
    check(c.client.fine_tuning.jobs.retrieve(job_id).status == "cancelled", "the API does not say cancelled")
    check(points() >= more, "points lost")
    shot(c, "04-job-cancelled")
    go(c, "#/jobs")
    row = wait_for(c, lambda: css(c, "#jobs-table tr[data-job='%s']" % job_id), "the job in the list")[0]
    check("cancelled" in row.text and BASE in row.text and "live" in row.text, "list row %r" % row.text)
    shot(c, "05-jobs-list")
    one(c, "main form input[type=text]").send_keys("run=other\n")
    wait_for(c, lambda: "No jobs match" in text_of(c, "main"), "the metadata filter")
    accessibility(c, "jobs")


def test_checkpoints_and_playground(c):
    hp = {"n_epochs": 2, "batch_size": 4}
    job = c.client.fine_tuning.jobs.create(model=BASE, training_file=c.train_file, validation_file=c.train_file,
                                           suffix="done", method={"type": "supervised", "supervised": {"hyperparameters": hp}})
    go(c, "#/jobs/" + job.id)
    wait_for(c, lambda: "succeeded" in text_of(c, "h1 .status"), "the job to succeed", timeout=60)
    rows = wait_for(c, lambda: len(css(c, "#checkpoints-table tbody tr")) == 2 and css(c, "#checkpoints-table tbody tr"), "two checkpoints")
    check(all("ckpt-step-" in r.text for r in rows), "checkpoint rows: %r" % [r.text for r in rows])
    n, steps = len(css(c, "#chart-loss circle.point-train")), TRAIN_EXAMPLES // 4 * 2
    check(n == steps, "the finished job's chart has %d points, want its %d steps" % (n, steps))
    hp = one(c, "#job-hyperparameters").text
    check("n_epochs" in hp and "batch_size\n4" in hp, "hyperparameters shown: %r" % hp)
    for chart in ("chart-loss", "chart-accuracy"):
        check(css(c, "#%s circle.point-valid" % chart), "no validation points in #%s" % chart)
    check(rows[0].find_elements("css selector", "td")[4].text not in ("", "–"), "no valid_loss in the checkpoint row")
    accessibility(c, "job")
    shot(c, "06-job-succeeded")
    ckpt = rows[-1].find_element("css selector", "code").text
    rows[-1].find_element("css selector", "button").click()
    wait_for(c, lambda: one(c, "#pg-model-a").get_attribute("value") == ckpt, "the playground on " + ckpt)
    select(c, "#pg-model-b", BASE)
    one(c, "#pg-max-tokens").clear()
    one(c, "#pg-max-tokens").send_keys("12")
    one(c, "#pg-message").send_keys("What colour is item 4?")
    one(c, "#pg-send").click()
    for side in "ab":
        wait_for(c, lambda: one(c, "#pg-stats-" + side).get_attribute("data-done"), "the reply of side " + side, timeout=60)
        stats = one(c, "#pg-stats-" + side).text
        check("prompt" in stats and "completion 12 tokens" in stats and "ms" in stats, "side %s stats %r" % (side, stats))
        check(one(c, "#pg-chat-%s .reply" % side).text.strip(), "side %s has no reply text" % side)
        pieces = int(one(c, "#pg-chat-%s .reply" % side).get_attribute("data-pieces") or 0)
        check(pieces > 1, "side %s: the reply came in %d streamed piece(s)" % (side, pieces))
    code = one(c, "#pg-snippet").text
    check("from openai import OpenAI" in code and "model=\"%s\"" % ckpt in code and "stream=True" in code, "snippet %r" % code)
    accessibility(c, "playground")
    shot(c, "07-playground")


def test_eval_report(c):
    def labelled(i):  # answers that are labels: the report has per-label scores and confusion matrices
        ex = example(i)
        ex["messages"][-1]["content"] = ("red", "blue", "green")[i % 3]
        return ex
    held = write_jsonl(os.path.join(c.tmp, "held.jsonl"), [labelled(i) for i in range(100, 106)])
    report = os.path.join(c.tmp, "report.json")
    r = subprocess.run([BINARY, "eval", "--data", held, "--max-tokens", "2", "--candidate", "base", "--model",
                        os.path.join(MODELS, BASE), "--candidate", "served", "--model", BASE, "--base-url",
                        c.server.base_url + "/v1", "--api-key", KEY, "--json", report],
                       cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(r.returncode in (0, 1) and os.path.exists(report), "ftune eval: %s" % r.stdout.decode()[-800:])
    go(c, "#/evals")
    one(c, "#eval-file").send_keys(report)
    bars = wait_for(c, lambda: css(c, "#eval-chart-accuracy rect.bar"), "the accuracy chart")
    check(len(bars) == 2, "accuracy bars: %d, want 2" % len(bars))
    check(len(css(c, "#eval-table tbody tr")) == 2, "table rows")
    check(len(css(c, "#eval-comparisons tbody tr")) == 1, "comparison rows")
    maps = css(c, "svg.confusion")
    check([m.get_attribute("data-candidate") for m in maps] == ["base", "served"], "confusion maps %r" % maps)
    counts = [int(x.get_attribute("data-count")) for x in css(c, "svg.confusion[data-candidate=base] rect.cell")]
    check(sum(counts) == 6 and len(counts) == 3 * 4, "base's confusion cells %r: want 3 x 4 summing to 6" % counts)
    accessibility(c, "evals")
    shot(c, "08-evals")


def test_server_without_keys(c):
    """A server without keys: the console works without one (another origin: no key stored)."""
    other = Server(os.path.join(c.tmp, "data-open")).start()
    try:
        c.driver.get(other.base_url + "/#/files")
        wait_for(c, lambda: "No files yet" in text_of(c, "main"), "the files page without a key")
        check("requires" not in one(c, "#key-status").text, "a key was asked for: %r" % one(c, "#key-status").text)
    finally:
        other.stop()


if __name__ == "__main__":
    run_tests([test_pages_served, test_validation_endpoint, test_key_prompt, test_upload_validation, test_job_curve_and_cancel,
               test_checkpoints_and_playground, test_eval_report, test_server_without_keys], setup=setup, teardown=teardown)
