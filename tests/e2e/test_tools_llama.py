"""test_tools_llama.py: tool calling with Llama 3.1's chat template through the real `ftune serve` and
the official openai SDK, on a tiny random Llama model (scripts/make_tiny_llama31.py: Llama-3-style
tokenizer, the real Llama-3.1-8B-Instruct template), built into the test's temporary directory.

The prompt: for two golden cases of tests/golden/chat_template/llama3.1-8b-instruct.json (jinja2's
rendering of the real template: tools in the first user turn, a call, an ipython tool result), the
same tools and messages sent to the server cost exactly as many prompt tokens as `ftune tokenize`
gives for jinja2's text (with tool_choice "none" the tools are left out, as the golden without tools
shows). The calls: random weights never call a tool by themselves, so calls are forced: a named
function and tool_choice "required" (parallel_tool_calls true still one call: the template renders
one per message) give message.tool_calls parsed by the SDK with schema-valid JSON arguments and
finish_reason "tool_calls", streamed too; a call and its result sent back render. Training data
with tools and a call (`ftune validate --model`) counts the tokens of jinja2's rendering and trains
the call and the answer. Fast (a 0.2M
parameter model). Plain script: `python3 tests/e2e/test_tools_llama.py`.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jsonschema  # noqa: E402

from serve_util import BINARY, ROOT, Server, check, run_tests, stop_and_clean  # noqa: E402

MODEL = "tiny-llama31"
GOLDEN = os.path.join(ROOT, "tests/golden/chat_template/llama3.1-8b-instruct.json")
MAX_TOKENS = 200  # a call of MODE_PARAMS takes some 80 tokens of this vocabulary

# Parameters a random model can complete within MAX_TOKENS under the constraint (no free text).
MODE_PARAMS = {
    "type": "object",
    "properties": {"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}, "detailed": {"type": "boolean"}},
    "required": ["unit", "detailed"],
    "additionalProperties": False,
}
TOOLS = [
    {"type": "function", "function": {"name": "set_mode", "description": "Set the display mode.",
                                      "parameters": MODE_PARAMS}},
    {"type": "function", "function": {"name": "now", "description": "The time.",
                                      "parameters": {"type": "object", "properties": {}}}},
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
ASK = [{"role": "system", "content": "You set modes."}, {"role": "user", "content": "Celsius please, detailed."}]


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-tools-llama-")
    c.models = os.path.join(c.tmp, "models")
    c.model_dir = os.path.join(c.models, MODEL)
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts/make_tiny_llama31.py"), "--quiet", c.model_dir],
                   check=True)
    c.server = Server(os.path.join(c.tmp, "data"), models_dir=c.models, extra_args=["--threads", "2"]).start()
    c.client = c.server.client(timeout=120.0)
    return c


def teardown(c):
    stop_and_clean(c)


def n_tokens(c, text):
    """`ftune tokenize` of a rendered prompt (special tokens parsed, no BOS added: the text has it)."""
    out = subprocess.run([BINARY, "tokenize", "--model", c.model_dir, "--no-special", text], check=True,
                         capture_output=True, text=True).stdout
    return len(json.loads(out))


def golden_case(name):
    with open(GOLDEN, encoding="utf-8") as f:
        doc = json.load(f)
    return next(x for x in doc["cases"] if x["name"] == name)


def test_prompt_tokens_match_jinja2(c):
    for name in ("tools_round_trip/gen=on", "tools_developer_multi_turn/gen=on", "tool_calls_without_tools/gen=on"):
        case = golden_case(name)
        want = n_tokens(c, case["expected"])
        kw = {"tools": case["tools"]} if case["tools"] else {}
        r = c.client.chat.completions.create(model=MODEL, messages=case["messages"], max_tokens=1, **kw)
        check(r.usage.prompt_tokens == want, "%s: %d prompt tokens, jinja2's text has %d"
              % (name, r.usage.prompt_tokens, want))
    # tool_choice "none": the tools are not shown (the prompt of the same messages without tools)
    case = golden_case("tools_round_trip/gen=on")
    r = c.client.chat.completions.create(model=MODEL, messages=case["messages"], tools=case["tools"],
                                         tool_choice="none", max_tokens=1)
    r0 = c.client.chat.completions.create(model=MODEL, messages=case["messages"], max_tokens=1)
    check(r.usage.prompt_tokens == r0.usage.prompt_tokens < n_tokens(c, case["expected"]),
          "none: %d vs %d" % (r.usage.prompt_tokens, r0.usage.prompt_tokens))


def test_training_renders_alike(c):
    """A training example with tools, a call and its result: `ftune validate --model` counts the tokens
    of jinja2's rendering, and trains exactly the call and the answer (each with its <|eot_id|>)."""
    case = golden_case("tools_training_example/gen=off")
    path = os.path.join(c.tmp, "train.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(10):  # the fewest examples a training file may have
            f.write(json.dumps({"tools": case["tools"], "messages": case["messages"]}) + "\n")
    out = subprocess.run([BINARY, "validate", path, "--model", c.model_dir, "--json", "--max-length", "4096"],
                         capture_output=True, text=True)
    report = json.loads(out.stdout)
    check(out.returncode == 0 and report["valid"], "validate: %s" % out.stdout[:2000])
    st = report["statistics"]
    want = n_tokens(c, case["expected"])
    check(st["tokens_per_example"]["max"] == want, "tokens %r, jinja2's text has %d" % (st["tokens_per_example"], want))
    trained = n_tokens(c, '{"name": "get_weather", "parameters": {"city": "Oslo", "unit": "celsius"}}<|eot_id|>') + \
        n_tokens(c, "It is -3 \u00b0C in Oslo.<|eot_id|>")
    check(st["assistant_tokens_per_example"]["max"] == trained,
          "trained %r, want %d" % (st["assistant_tokens_per_example"], trained))


def check_call(tc, names, what):
    check(tc.id.startswith("call_") and tc.type == "function", "%s: %r" % (what, tc))
    check(tc.function.name in names, "%s: name %r" % (what, tc.function.name))
    args = json.loads(tc.function.arguments)
    jsonschema.validate(args, SCHEMAS[tc.function.name])
    return args


def test_named_function_call(c):
    r = c.client.chat.completions.create(model=MODEL, messages=ASK, tools=TOOLS, max_tokens=MAX_TOKENS,
                                         temperature=1.0, seed=7,
                                         tool_choice={"type": "function", "function": {"name": "set_mode"}})
    ch = r.choices[0]
    check(ch.finish_reason == "tool_calls" and ch.message.content is None, "named: %r" % ch)
    check(len(ch.message.tool_calls) == 1, "one call: %r" % ch.message.tool_calls)
    check_call(ch.message.tool_calls[0], {"set_mode"}, "named")


def test_required_one_call_round_trip(c):
    r = c.client.chat.completions.create(model=MODEL, messages=ASK, tools=TOOLS, max_tokens=MAX_TOKENS,
                                         temperature=0, tool_choice="required")  # parallel_tool_calls: default
    msg = r.choices[0].message
    check(r.choices[0].finish_reason == "tool_calls" and len(msg.tool_calls) == 1, "required: %r" % msg)
    tc = msg.tool_calls[0]
    check_call(tc, set(SCHEMAS), "required")
    history = ASK + [msg.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": tc.id, "content": "done"}]
    r2 = c.client.chat.completions.create(model=MODEL, messages=history, tools=TOOLS, max_tokens=4, temperature=0,
                                          tool_choice="none")
    # the round trip renders as the template does: system, user, the call, an ipython turn "\"done\""
    call_text = '{"name": "%s", "parameters": %s}' % (tc.function.name,
                                                       json.dumps(json.loads(tc.function.arguments)))
    text = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 26 Jul 2024\n\nYou set modes.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
            "Celsius please, detailed.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" + call_text +
            "<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n\"done\"<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n")
    check(r2.usage.prompt_tokens == n_tokens(c, text), "round trip: %d prompt tokens, want %d"
          % (r2.usage.prompt_tokens, n_tokens(c, text)))


def test_streamed_call(c):
    stream = c.client.chat.completions.create(model=MODEL, messages=ASK, tools=TOOLS, max_tokens=MAX_TOKENS,
                                              temperature=0, stream=True,
                                              tool_choice={"type": "function", "function": {"name": "set_mode"}})
    calls, finish, content = {}, None, ""
    for chunk in stream:
        for ch in chunk.choices:
            content += ch.delta.content or ""
            for tc in ch.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                slot["id"] = tc.id or slot["id"]
                slot["name"] += (tc.function and tc.function.name) or ""
                slot["arguments"] += (tc.function and tc.function.arguments) or ""
            finish = ch.finish_reason or finish
    check(finish == "tool_calls" and content == "" and list(calls) == [0], "stream: %r %r %r" % (finish, content, calls))
    check(calls[0]["name"] == "set_mode" and calls[0]["id"].startswith("call_"), "stream: %r" % calls)
    jsonschema.validate(json.loads(calls[0]["arguments"]), MODE_PARAMS)


def test_two_calls_in_one_message_is_400(c):
    import openai
    calls = [{"id": "call_%d" % i, "type": "function", "function": {"name": "now", "arguments": "{}"}} for i in (1, 2)]
    msgs = ASK + [{"role": "assistant", "content": None, "tool_calls": calls}]
    try:
        c.client.chat.completions.create(model=MODEL, messages=msgs, tools=TOOLS, max_tokens=4)
    except openai.BadRequestError as e:
        check("one call per assistant message" in e.body.get("message", ""), "two calls: %r" % e.body)
        return
    raise AssertionError("expected a 400")


if __name__ == "__main__":
    run_tests([test_prompt_tokens_match_jinja2, test_training_renders_alike, test_named_function_call, test_required_one_call_round_trip,
               test_streamed_call, test_two_calls_in_one_message_is_400], setup, teardown)
