"""test_pull.py: `ftune pull` (issue 17, item 1) against tests/e2e/hub_server.py, a local server laid
out as the Hugging Face Hub is (the test machines reach no Hub; the real one was never contacted).
The repositories hold the tiny Qwen2 model the tests make (a safetensors folder) and GGUF files.
Checked: a whole folder pulled byte for byte, foreign weight formats left out, paged listings, the
token sent to the Hub but not to its CDN; a running `ftune serve` lists the model without a restart;
a second pull downloads nothing; several GGUF files refused without --include, one taken with it;
a connection dropped mid-file resumed with an HTTP range, in the same run and in a later one; a
corrupted file refused by its digest and nothing installed; a missing repository, revision or file
and a bad repository id each a clear error with exit status 2.
Plain script: `python3 tests/e2e/test_pull.py`.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hub_server import HubServer, Repo, read_tree  # noqa: E402
from serve_util import BINARY, MODELS, Server, check, run_tests  # noqa: E402

TOKEN = "hf_test_token_123"


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-pull-")
    c.hub = HubServer().start()
    c.tiny = read_tree(os.path.join(MODELS, "tiny-qwen2"))
    files = dict(c.tiny)
    files["README.md"] = b"# tiny\n"
    files["pytorch_model.bin"] = b"\0" * 1000  # a format ftune does not read: left out
    files[".gitattributes"] = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    c.hub.state.add(Repo("ftune-tests/tiny-qwen2", files))
    # a few MiB, so that a dropped connection leaves a real partial file
    c.big = {k: v for k, v in c.tiny.items()}
    c.big["model.safetensors"] = c.tiny["model.safetensors"]
    c.big["extra/notes.txt"] = os.urandom(64)
    c.hub.state.add(Repo("ftune-tests/tiny-qwen2-big", c.big))
    c.gguf = open(os.path.join(MODELS, "stories260K.gguf"), "rb").read()
    c.hub.state.add(Repo("ftune-tests/stories-GGUF", {
        "stories260K.Q8_0.gguf": c.gguf, "stories260K.F16.gguf": c.gguf[:4096], "README.md": b"stories\n"}))
    c.models = os.path.join(c.tmp, "models")
    c.server = None
    return c


def teardown(c):
    if c.server:
        c.server.stop()
    c.hub.stop()
    shutil.rmtree(c.tmp, ignore_errors=True)


def pull(c, *args, token=True):
    env = dict(os.environ, HF_ENDPOINT=c.hub.endpoint, FTUNE_HUB_RETRY_WAIT_S="0.05")
    env.pop("HF_TOKEN", None)
    if token:
        env["HF_TOKEN"] = TOKEN
    p = subprocess.run([BINARY, "pull", *args, "--models", c.models], env=env, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stderr


def requests(c):
    with c.hub.state.lock:
        log = list(c.hub.state.log)
        c.hub.state.log.clear()
    return log


def test_full_folder(c):
    os.makedirs(c.models)
    c.server = Server(os.path.join(c.tmp, "data"), models_dir=c.models).start()
    ids = [m.id for m in c.server.client().models.list().data]
    check("tiny-qwen2" not in ids, "the model is listed before it is pulled: %s" % ids)
    rc, err = pull(c, "ftune-tests/tiny-qwen2")
    check(rc == 0, "pull failed (%d): %s" % (rc, err))
    got = read_tree(os.path.join(c.models, "tiny-qwen2"))
    want = {k: v for k, v in c.tiny.items()}
    want["README.md"] = b"# tiny\n"
    check(got == want, "pulled files differ: got %s, want %s" % (sorted(got), sorted(want)))
    check(sorted(os.listdir(c.models)) == ["tiny-qwen2"], "staging left behind: %s" % os.listdir(c.models))
    log = requests(c)
    api = [a for p, _, a in log if p.startswith("/api/")]
    cdn = [a for p, _, a in log if p.startswith("/cdn/")]
    check(len(api) >= 1 + 4, "expected the revision and 4 paged tree requests: %s" % log)
    check(all(a == "Bearer " + TOKEN for a in api), "the token was not sent to the API: %s" % api)
    check(cdn and all(a is None for a in cdn), "the token went to the CDN host: %s" % cdn)
    # the running server sees it without a restart, and it answers
    ids = [m.id for m in c.server.client().models.list().data]
    check("tiny-qwen2" in ids, "serve does not list the pulled model: %s" % ids)
    r = c.server.client().chat.completions.create(model="tiny-qwen2", max_tokens=3,
                                                  messages=[{"role": "user", "content": "hi"}])
    check(r.choices[0].message.content is not None, "no reply from the pulled model")


def test_up_to_date(c):
    rc, err = pull(c, "ftune-tests/tiny-qwen2@main")
    check(rc == 0 and "up to date" in err, "a second pull is not up to date (%d): %s" % (rc, err))
    check(not [p for p, _, _ in requests(c) if "/resolve/" in p or p.startswith("/cdn/")],
          "a second pull downloaded again")


def test_gguf_choice(c):
    rc, err = pull(c, "ftune-tests/stories-GGUF")
    check(rc == 2 and "2 GGUF files" in err and "--include" in err and "stories260K.F16.gguf" in err,
          "several GGUF files were not refused clearly (%d): %s" % (rc, err))
    rc, err = pull(c, "ftune-tests/stories-GGUF", "--include", "*Q8_0.gguf")
    check(rc == 0, "pull --include failed (%d): %s" % (rc, err))
    path = os.path.join(c.models, "stories260K.Q8_0.gguf")
    check(open(path, "rb").read() == c.gguf, "the GGUF file differs")
    check(not os.path.exists(os.path.join(c.models, "stories260K.F16.gguf")), "an unchosen file was pulled")
    rc, err = pull(c, "ftune-tests/stories-GGUF", "--include", "*Q8_0.gguf", "--name", "stories")
    check(rc == 0 and open(os.path.join(c.models, "stories.gguf"), "rb").read() == c.gguf,
          "--name did not name the GGUF file (%d): %s" % (rc, err))
    ids = [m.id for m in c.server.client().models.list().data]
    check("stories" in ids and "stories260K.Q8_0" in ids, "serve does not list the pulled GGUF files: %s" % ids)


def test_resume_same_run(c):
    c.hub.state.drop_after["model.safetensors"] = 50000
    requests(c)
    rc, err = pull(c, "ftune-tests/tiny-qwen2-big", "--name", "big1")
    check(rc == 0, "a dropped connection was not resumed (%d): %s" % (rc, err))
    ranges = [r for p, r, _ in requests(c) if p.startswith("/cdn/") and r]
    check(ranges == ["bytes=50000-"], "expected one resumed request from byte 50000: %s" % ranges)
    check(read_tree(os.path.join(c.models, "big1")) == c.big, "the resumed download differs")


def test_resume_next_run(c):
    c.hub.state.drop_always.add("model.safetensors")
    rc, err = pull(c, "ftune-tests/tiny-qwen2-big", "--name", "big2")
    check(rc == 1 and "run again to resume" in err, "a download that kept failing was not reported (%d): %s" % (rc, err))
    check(not os.path.exists(os.path.join(c.models, "big2")), "a partial model was installed")
    partial = os.path.join(c.models, ".big2.pull", "model.safetensors.incomplete")
    kept = os.path.getsize(partial)
    check(kept == 5 * 4096, "expected 5 tries of 4096 bytes kept, found %d bytes" % kept)
    c.hub.state.drop_always.clear()
    requests(c)
    rc, err = pull(c, "ftune-tests/tiny-qwen2-big", "--name", "big2")
    check(rc == 0, "the second run did not finish (%d): %s" % (rc, err))
    ranges = [r for p, r, _ in requests(c) if p.startswith("/cdn/")]
    check(ranges == ["bytes=%d-" % kept], "the second run did not resume from byte %d: %s" % (kept, ranges))
    check(read_tree(os.path.join(c.models, "big2")) == c.big, "the download resumed in a second run differs")
    check(not os.path.exists(os.path.join(c.models, ".big2.pull")), "staging left behind")


def test_corrupt_refused(c):
    c.hub.state.corrupt.add("model.safetensors")
    rc, err = pull(c, "ftune-tests/tiny-qwen2-big", "--name", "big3")
    c.hub.state.corrupt.clear()
    check(rc == 1 and "does not match" in err and "SHA-256" in err, "a corrupted file was not refused (%d): %s" % (rc, err))
    check(not os.path.exists(os.path.join(c.models, "big3")), "a corrupted model was installed")
    check(not os.path.exists(os.path.join(c.models, ".big3.pull", "model.safetensors.incomplete")),
          "the corrupted partial file was kept (it would be resumed)")


def test_errors(c):
    rc, err = pull(c, "ftune-tests/no-such-repo")
    check(rc == 2 and "not found" in err and "HF_TOKEN" in err, "a missing repository (%d): %s" % (rc, err))
    rc, err = pull(c, "ftune-tests/tiny-qwen2@v9")
    check(rc == 2 and "revision v9" in err and "not found" in err, "a missing revision (%d): %s" % (rc, err))
    rc, err = pull(c, "ftune-tests/tiny-qwen2", "--include", "*.nothing")
    check(rc == 2 and "matches --include" in err and "config.json" in err, "no file matching (%d): %s" % (rc, err))
    rc, err = pull(c, "../etc")
    check(rc == 2 and "repository id" in err, "a bad repository id (%d): %s" % (rc, err))
    rc, err = pull(c, "ftune-tests/tiny-qwen2@")
    check(rc == 2 and "empty revision" in err, "an empty revision (%d): %s" % (rc, err))
    # a file listed but not found when fetched: the Hub's EntryNotFound, named
    c.hub.state.gone.add("extra/notes.txt")
    rc, err = pull(c, "ftune-tests/tiny-qwen2-big", "--name", "big4")
    c.hub.state.gone.clear()
    check(rc == 2 and "not found" in err and "extra/notes.txt" in err, "a listed file not found (%d): %s" % (rc, err))
    check(not os.path.exists(os.path.join(c.models, "big4")), "a model without one of its files was installed")


if __name__ == "__main__":
    if not os.path.exists(os.path.join(MODELS, "tiny-qwen2", "model.safetensors")):
        print("skipped: models/tiny-qwen2 is missing (scripts/fetch_models.sh makes it)")
        sys.exit(0)
    run_tests([test_full_folder, test_up_to_date, test_gguf_choice, test_resume_same_run, test_resume_next_run,
               test_corrupt_refused, test_errors], setup, teardown)
