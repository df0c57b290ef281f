"""test_tools.py: tool calling on /v1/chat/completions through the real `ftune serve` and the
official openai SDK, on Qwen2.5-Coder-0.5B-Instruct (whose chat template renders tools): a named
function and tool_choice "required" give a parsed call (id call_..., type function, arguments a JSON
string that validates against the function's schema, finish_reason "tool_calls"), with
parallel_tool_calls false exactly one; the call and a tool result sent back render and the model
answers in text with tool_choice "none"; streamed tool-call deltas assemble into the same shape; and
a model whose template has no tools (SmolLM2) is a 400 naming `tools`, as are a forced call to an
unknown function and a schema outside the constrained subset. Validation uses the `jsonschema`
package. Slow on 2 cores: few tests, small max_tokens. Plain script: `python3 tests/e2e/test_tools.py`.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jsonschema  # noqa: E402
import openai  # noqa: E402

from serve_util import MODELS, Server, check, run_tests, stop_and_clean  # noqa: E402

QWEN = "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M"
SMOL = "SmolLM2-135M-Instruct.Q4_1"
MAX_TOKENS = 64

WEATHER_PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city.",
                                      "parameters": WEATHER_PARAMS}},
    {"type": "function", "function": {"name": "get_time", "description": "Get the local time in a city.",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                     "required": ["city"]}}},
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
ASK = [{"role": "user", "content": "What is the weather like in Paris right now?"}]


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-tools-")
    c.server = Server(os.path.join(c.tmp, "data"), extra_args=["--threads", "2"]).start()
    c.client = c.server.client(timeout=300.0)  # a shared 2-core machine can be slow
    return c


def teardown(c):
    stop_and_clean(c)


def check_call(tc, names, what):
    check(tc.id.startswith("call_") and len(tc.id) > 5, "%s: id %r" % (what, tc.id))
    check(tc.type == "function", "%s: type %r" % (what, tc.type))
    check(tc.function.name in names, "%s: name %r" % (what, tc.function.name))
    check(isinstance(tc.function.arguments, str), "%s: arguments is a string" % what)
    args = json.loads(tc.function.arguments)
    jsonschema.validate(args, SCHEMAS[tc.function.name])
    return args


def bad_request(fn):
    try:
        fn()
    except openai.BadRequestError as e:
        return e
    raise AssertionError("expected a 400")


def test_model_without_tools_is_400(c):
    e = bad_request(lambda: c.client.chat.completions.create(model=SMOL, messages=ASK, tools=TOOLS, max_tokens=8))
    check(e.body.get("param") == "tools" and "tools" in e.body.get("message", ""), "SmolLM2: %r" % e.body)
    e = bad_request(lambda: c.client.chat.completions.create(
        model=QWEN, messages=ASK, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "nope"}}))
    check(e.body.get("param") == "tool_choice.function.name", "unknown function: %r" % e.body)
    bad = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"s": {"type": "string", "minLength": 2}}}}}]
    e = bad_request(lambda: c.client.chat.completions.create(model=QWEN, messages=ASK, tools=bad,
                                                             tool_choice="required"))
    check(e.body.get("param") == "tools[0].function.parameters" and "minLength" in e.body.get("message", ""),
          "unsupported schema: %r" % e.body)
    e = bad_request(lambda: c.client.chat.completions.create(model=QWEN, messages=ASK, tool_choice="auto"))
    check(e.body.get("param") == "tool_choice", "tool_choice without tools: %r" % e.body)


def test_named_function_call(c):
    r = c.client.chat.completions.create(model=QWEN, messages=ASK, tools=TOOLS, max_tokens=MAX_TOKENS,
                                         temperature=0,
                                         tool_choice={"type": "function", "function": {"name": "get_weather"}})
    ch = r.choices[0]
    check(ch.finish_reason == "tool_calls", "finish_reason %r (%r)" % (ch.finish_reason, ch.message))
    check(ch.message.content is None, "content %r" % ch.message.content)
    check(len(ch.message.tool_calls) >= 1, "calls: %r" % ch.message.tool_calls)
    for tc in ch.message.tool_calls:
        args = check_call(tc, {"get_weather"}, "named")
    check("paris" in args["city"].lower(), "the city asked for: %r" % args)


def test_required_one_call_round_trip_none(c):
    r = c.client.chat.completions.create(model=QWEN, messages=ASK, tools=TOOLS, max_tokens=MAX_TOKENS,
                                         temperature=0, tool_choice="required", parallel_tool_calls=False)
    msg = r.choices[0].message
    check(r.choices[0].finish_reason == "tool_calls" and len(msg.tool_calls) == 1, "one call: %r" % msg)
    tc = msg.tool_calls[0]
    check_call(tc, set(SCHEMAS), "required")
    # the call and its result go back; "none": the model must answer in text
    history = ASK + [msg.model_dump(exclude_none=True),
                     {"role": "tool", "tool_call_id": tc.id, "content": json.dumps({"temp_c": 21, "sky": "clear"})}]
    r2 = c.client.chat.completions.create(model=QWEN, messages=history, tools=TOOLS, tool_choice="none",
                                          max_tokens=24, temperature=0)
    m2 = r2.choices[0].message
    check(r2.choices[0].finish_reason in ("stop", "length") and not m2.tool_calls, "text reply: %r" % m2)
    check(isinstance(m2.content, str) and m2.content.strip(), "text reply: %r" % m2.content)
    check(r2.usage.prompt_tokens > r.usage.prompt_tokens - 200, "usage %r" % r2.usage)
    # a tool message must name its call
    e = bad_request(lambda: c.client.chat.completions.create(
        model=QWEN, messages=history[:-1] + [{"role": "tool", "content": "21"}], tools=TOOLS, max_tokens=4))
    check(e.body.get("param") == "messages[2].tool_call_id", "no tool_call_id: %r" % e.body)


def test_streamed_call_deltas(c):
    stream = c.client.chat.completions.create(model=QWEN, messages=ASK, tools=TOOLS, max_tokens=MAX_TOKENS,
                                              temperature=0, stream=True,
                                              tool_choice={"type": "function", "function": {"name": "get_weather"}})
    calls, finish, content = {}, None, ""
    for chunk in stream:
        for ch in chunk.choices:
            d = ch.delta
            content += d.content or ""
            for tc in d.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] += tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
            if ch.finish_reason:
                finish = ch.finish_reason
    check(finish == "tool_calls", "finish %r" % finish)
    check(content == "", "no content before the call: %r" % content)
    check(sorted(calls) == list(range(len(calls))) and calls, "indices %r" % sorted(calls))
    for k, s in calls.items():
        check(s["id"] and s["id"].startswith("call_") and s["name"] == "get_weather", "delta %d: %r" % (k, s))
        jsonschema.validate(json.loads(s["arguments"]), WEATHER_PARAMS)


if __name__ == "__main__":
    if not os.path.exists(os.path.join(MODELS, QWEN + ".gguf")):
        print("skipped: models/%s.gguf is missing" % QWEN)
        sys.exit(0)
    run_tests([test_model_without_tools_is_400, test_named_function_call, test_required_one_call_round_trip_none,
               test_streamed_call_deltas], setup, teardown)
