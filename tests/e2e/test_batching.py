"""test_batching.py: the continuous-batching scheduler of `ftune serve`, through the real server and
the official openai SDK, on SmolLM2-135M (Q4_1), at the precision auto picks (FTUNE_E2E_PRECISION
overrides it). Inference computes every row the same way whatever shares its batch (matmul.h,
ops.h: op_attention), so each request's text, greedy or sampled with its own seed, must be the
same to the character served alone or among 31 others, on the base model alone or mixed with two
PEFT adapters (scripts/write_peft_adapter.py) in the same batch. Also: the prefix cache reports cached
tokens and changes nothing; n > 1 forks one prompt; logprobs are OpenAI-shaped and the greedy
token is the most likely one; 50 clients that disconnect mid-stream leave no live sequence behind
and the server's memory flat; a prompt longer than the context is a 400.
Plain script: `python3 tests/e2e/test_batching.py`.
"""
import concurrent.futures as cf
import http.client
import json
import math
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import openai  # noqa: E402

from serve_util import BINARY, MODELS, Server, check, run_tests, stop_and_clean  # noqa: E402
from write_peft_adapter import model_dims, write_adapter  # noqa: E402

MODEL = "SmolLM2-135M-Instruct.Q4_1"
SYSTEM = ("You are the support desk's triage assistant. Read the customer's ticket and answer with its "
          "category in one or two words.")
TICKETS = ["My card was charged twice for the same order.", "I cannot log in to my account since yesterday.",
           "How do I change my shipping address?", "The app crashes when I open the settings page.",
           "Please cancel my subscription at the end of the month.", "Where is the refund you promised me?",
           "I forgot my password and the reset mail never arrives.", "The package arrived damaged and wet."]


# FTUNE_E2E_PRECISION=fp32 or bf16 runs the server at that precision (default: auto)
PRECISION = ("--precision", os.environ["FTUNE_E2E_PRECISION"]) if os.environ.get("FTUNE_E2E_PRECISION") else ()


class Ctx:
    pass


def setup():
    c = Ctx()
    if not os.path.exists(os.path.join(MODELS, MODEL + ".gguf")):
        print("skip: models/%s.gguf is missing (make models)" % MODEL)
        sys.exit(0)
    c.tmp = tempfile.mkdtemp(prefix="ftune-batching-")
    dims = model_dims(os.path.join(MODELS, MODEL + ".gguf"), BINARY)
    flags = ()
    for k in (1, 2):  # two PEFT adapters on every projection, large enough to change the replies
        path = write_adapter(os.path.join(c.tmp, "adapter-%d" % k), dims, "HuggingFaceTB/SmolLM2-135M-Instruct",
                             seed=k, rank=8, alpha=16, b_scale=0.3, dtype="F32")
        flags += ("--adapter", "mix-%d=%s@%s" % (k, path, MODEL))
    c.server = Server(os.path.join(c.tmp, "data"), extra_args=("--parallel", "32") + flags + PRECISION).start()
    c.client = c.server.client(timeout=120.0)
    return c


def teardown(c):
    stop_and_clean(c)


def messages(i, system=SYSTEM):
    return [{"role": "system", "content": system}, {"role": "user", "content": "%s (ticket %d)" % (TICKETS[i % 8], i)}]


def ask(c, i, **kw):
    args = dict(model=MODEL, messages=messages(i), max_tokens=12, temperature=0)
    args.update(kw)
    return c.client.chat.completions.create(**args)


def metric(c, name):
    status, _, body = c.server.request("GET", "/metrics")
    check(status == 200, "GET /metrics: %d" % status)
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


def test_alone_and_among_31_others_give_the_same_text(c):
    """Greedy and sampled (per-request seeds) replies: 32 requests one at a time, then all at once."""
    for kw in ({}, {"temperature": 1.0, "seed": 1234}):
        def one(i):
            extra = dict(kw)
            if "seed" in extra:
                extra["seed"] += i
            return ask(c, i, **extra).choices[0].message.content
        alone = [one(i) for i in range(32)]
        with cf.ThreadPoolExecutor(32) as ex:
            together = list(ex.map(one, range(32)))
        diff = [i for i in range(32) if alone[i] != together[i]]
        print("    %s: %d of 32 replies changed when batched" % (kw or "greedy", len(diff)))
        check(not diff, "%s: %d of 32 replies changed when batched, e.g. %r vs %r" % (
            kw or "greedy", len(diff), alone[diff[0]] if diff else "", together[diff[0]] if diff else ""))
        check(len(set(alone)) > 4, "the 32 replies are nearly all alike (%d distinct): %r" % (len(set(alone)), alone[:4]))
    steps, rows = metric(c, "ftune_scheduler_steps_total"), metric(c, "ftune_scheduler_batch_rows_total")
    check(rows > steps, "no step ran more than one row (%d rows in %d steps)" % (rows, steps))


def test_mixed_adapters_alone_and_together(c):
    """32 requests spread over the base model and two adapters: each reply the same served alone or
    in one batch with the others, and the adapters' replies differ from the base model's."""
    models = [MODEL, "mix-1", "mix-2"]

    def one(i):
        return ask(c, i, model=models[i % 3], temperature=1.0, seed=500 + i).choices[0].message.content
    alone = [one(i) for i in range(32)]
    with cf.ThreadPoolExecutor(32) as ex:
        together = list(ex.map(one, range(32)))
    diff = [i for i in range(32) if alone[i] != together[i]]
    print("    mixed adapters: %d of 32 replies changed when batched" % len(diff))
    check(not diff, "%d of 32 replies changed when batched, e.g. %r vs %r" % (
        len(diff), alone[diff[0]] if diff else "", together[diff[0]] if diff else ""))
    greedy = [ask(c, 0, model=m).choices[0].message.content for m in models]
    check(len(set(greedy)) == 3, "the adapters do not change the reply: %r" % greedy)


def test_prefix_cache_reports_cached_tokens_and_changes_nothing(c):
    system = "This first sentence makes the system message new to the cache. " + SYSTEM
    first = c.client.chat.completions.create(model=MODEL, messages=messages(3, system), max_tokens=12, temperature=0)
    second = c.client.chat.completions.create(model=MODEL, messages=messages(4, system), max_tokens=12, temperature=0)
    again = c.client.chat.completions.create(model=MODEL, messages=messages(3, system), max_tokens=12, temperature=0)
    check(first.usage.prompt_tokens_details.cached_tokens <= 5,
          "a new system message came from the cache: %d tokens" % first.usage.prompt_tokens_details.cached_tokens)
    cached = second.usage.prompt_tokens_details.cached_tokens
    check(cached >= 25, "the shared system message was not reused: cached_tokens %d of %d" % (cached, second.usage.prompt_tokens))
    check(again.usage.prompt_tokens_details.cached_tokens == again.usage.prompt_tokens - 1,
          "the same prompt again: cached_tokens %d of %d" % (again.usage.prompt_tokens_details.cached_tokens,
                                                             again.usage.prompt_tokens))
    check(again.choices[0].message.content == first.choices[0].message.content,
          "the cached prompt changed the reply: %r vs %r" % (again.choices[0].message.content, first.choices[0].message.content))
    check(metric(c, "ftune_scheduler_prefix_cache_hit_tokens_total") >= cached, "/metrics lacks the cache hits")


def test_n_choices_fork_one_prompt(c):
    r = ask(c, 5, n=3, temperature=1.0, seed=77, max_tokens=16)
    check(len(r.choices) == 3 and [ch.index for ch in r.choices] == [0, 1, 2], "n=3: %r" % r.choices)
    got = [ch.message.content for ch in r.choices]
    check(len(set(got)) > 1, "three sampled choices are identical: %r" % got)
    # choice i samples with seed + i: the same as n=1 with that seed
    for i in range(3):
        one = ask(c, 5, temperature=1.0, seed=77 + i, max_tokens=16).choices[0].message.content
        check(one == got[i], "choice %d differs from n=1 with seed %d: %r vs %r" % (i, 77 + i, got[i], one))


def test_logprobs(c):
    r = ask(c, 2, logprobs=True, top_logprobs=5)
    lp = r.choices[0].logprobs.content
    check(lp and len(lp) <= r.usage.completion_tokens, "logprobs.content: %r" % lp)
    text = "".join(t.token for t in lp)
    check(text.startswith(r.choices[0].message.content[:3]), "tokens %r do not spell the reply %r" % (text, r.choices[0].message.content))
    for t in lp:
        check(len(t.top_logprobs) == 5, "top_logprobs: %d entries" % len(t.top_logprobs))
        check(t.token == t.top_logprobs[0].token and abs(t.logprob - t.top_logprobs[0].logprob) < 1e-6,
              "greedy token %r (%g) is not the most likely %r (%g)" % (t.token, t.logprob, t.top_logprobs[0].token,
                                                                       t.top_logprobs[0].logprob))
        check(all(a.logprob >= b.logprob for a, b in zip(t.top_logprobs, t.top_logprobs[1:])), "top_logprobs not sorted")
        check(sum(math.exp(a.logprob) for a in t.top_logprobs) <= 1 + 1e-4, "top probabilities sum above 1")
        check(bytes(t.bytes).decode("utf-8", "replace") == t.token, "bytes %r do not spell %r" % (t.bytes, t.token))
    # streaming: the chunks' logprobs together are the same tokens
    stream = c.client.chat.completions.create(model=MODEL, messages=messages(2), max_tokens=12, temperature=0,
                                              logprobs=True, stream=True)
    streamed = [t.token for ch in stream for choice in ch.choices if choice.logprobs and choice.logprobs.content
                for t in choice.logprobs.content]
    check(streamed == [t.token for t in lp], "streamed logprobs %r vs %r" % (streamed, [t.token for t in lp]))
    for bad in ({"top_logprobs": 21, "logprobs": True}, {"top_logprobs": 2}):
        try:
            ask(c, 2, **bad)
            raise AssertionError("accepted %r" % bad)
        except openai.BadRequestError as e:
            check(e.body["param"] == "top_logprobs", "%r: param %r" % (bad, e.body.get("param")))


def test_penalties_and_logit_bias(c):
    """logit_bias -100 bans the greedy first token, +100 forces a token; a strong presence penalty
    stops a reply from repeating its tokens (as OpenAI's do)."""
    base = ask(c, 6, logprobs=True)
    first = base.choices[0].logprobs.content[0]
    banned = ask(c, 6, logit_bias={str(tok_id(first.token)): -100}, logprobs=True)
    check(banned.choices[0].logprobs.content[0].token != first.token,
          "a -100 bias left the first token %r" % first.token)
    forced = ask(c, 6, logit_bias={str(tok_id(" yes")): 100}, max_tokens=4)
    check(forced.choices[0].message.content.split() == ["yes"] * 4,
          "a +100 bias did not force ' yes': %r" % forced.choices[0].message.content)
    plain = ask(c, 7, max_tokens=40)
    penal = ask(c, 7, max_tokens=40, presence_penalty=2.0, frequency_penalty=2.0)
    words = penal.choices[0].message.content.split()
    check(penal.choices[0].message.content != plain.choices[0].message.content, "the penalties changed nothing")
    check(len(words) - len(set(words)) <= len(plain.choices[0].message.content.split()) - len(set(plain.choices[0].message.content.split())),
          "the penalised reply repeats more words than the plain one")


def tok_id(text):
    """The id of the single token spelling text, through the CLI's tokenizer (the server's own)."""
    import subprocess
    from serve_util import BINARY
    out = subprocess.run([BINARY, "tokenize", "--model", os.path.join(MODELS, MODEL + ".gguf"), "--no-special", text],
                         capture_output=True, text=True, check=True).stdout
    ids = json.loads(out)
    check(len(ids) == 1, "%r is %d tokens" % (text, len(ids)))
    return ids[0]


def stream_and_leave(port, i):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"model": MODEL, "messages": messages(i), "max_tokens": 400, "stream": True, "temperature": 0})
    conn.request("POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read(200)  # the first chunks, then hang up mid-stream
    conn.sock.close()
    conn.close()


def disconnect_round(c):
    with cf.ThreadPoolExecutor(25) as ex:
        list(ex.map(lambda i: stream_and_leave(c.server.port, i), range(50)))
    deadline = time.time() + 60
    while time.time() < deadline and (metric(c, "ftune_scheduler_live_sequences") or
                                      metric(c, "ftune_scheduler_queued_requests")):
        time.sleep(0.2)
    check(metric(c, "ftune_scheduler_live_sequences") == 0, "live sequences left after 50 clients went away")
    check(metric(c, "ftune_scheduler_queued_requests") == 0, "requests still queued after their clients left")
    return c.server.rss_kb()


def test_disconnecting_clients_free_their_slots(c):
    """Rounds of 50 clients that hang up mid-stream (each asked for 400 tokens): no slot stays live,
    and once the prefix cache's slots are all filled (two rounds), a third round does not grow the
    server's memory."""
    ask(c, 0)  # the model is loaded before memory is measured
    rss = [disconnect_round(c) for _ in range(3)]
    print("    RSS after each round: %s kB; key/value cache %d MiB" % (rss, metric(c, "ftune_scheduler_kv_cache_bytes") / 2**20))
    check(rss[2] < rss[1] + 16 * 1024, "RSS grew from %d kB to %d kB over 50 more disconnecting clients" % (rss[1], rss[2]))
    r = ask(c, 1)  # the server still answers
    check(r.choices[0].message.content, "no reply after the disconnections")


def test_prompt_longer_than_the_context_is_400(c):
    """Also when streaming: the error is found before any event, so it is a plain HTTP 400 (the SDK
    raises BadRequestError), not a 200 stream carrying an error event."""
    for stream in (False, True):
        try:
            r = c.client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "word " * 9000}],
                                                 max_tokens=4, stream=stream)
            if stream:
                list(r)
            raise AssertionError("an over-long prompt was accepted (stream=%s)" % stream)
        except openai.BadRequestError as e:
            check(e.body["code"] == "context_length_exceeded", "stream=%s: code %r" % (stream, e.body.get("code")))
            check(e.body["param"] == "messages", "stream=%s: param %r" % (stream, e.body.get("param")))


TESTS = [test_alone_and_among_31_others_give_the_same_text, test_mixed_adapters_alone_and_together,
         test_prefix_cache_reports_cached_tokens_and_changes_nothing,
         test_n_choices_fork_one_prompt, test_logprobs, test_penalties_and_logit_bias,
         test_disconnecting_clients_free_their_slots,
         test_prompt_longer_than_the_context_is_400]

if __name__ == "__main__":
    run_tests(TESTS, setup, teardown)
