#!/usr/bin/env python3
"""make_cases.py: writes the `ftune validate` test corpus in this directory: one JSONL file per
case and cases.txt, the manifest that tests/unit/test_validate_cases.c and
tests/cli/validate_cases.sh check. The expected messages below are written by hand (they are the
oracle), not captured from ftune. Run it again after changing a case: python3 make_cases.py

Manifest: one case per line, tab-separated:
  file  args  exit  errors  warnings  line  code  message
args is "-" or ftune validate options (--method, --model, --max-length); errors and warnings are
the totals expected; line/code/message name one expected problem (a file with several expected
problems has several rows; "-" when the file must have none). message is the full formatted
text, e.g. 'line 7: messages[2].role: unknown role "assistnat"'.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SYSTEM = {"role": "system", "content": "You are a support classifier. Answer billing, technical or account."}


def filler(i):
    """A valid, distinct example."""
    return json.dumps({"messages": [SYSTEM, {"role": "user", "content": f"Question number {i}: why was I charged twice?"},
                                    {"role": "assistant", "content": ["billing", "technical", "account"][i % 3]}]})


def dpo_filler(i):
    return json.dumps({"input": {"messages": [{"role": "user", "content": f"Say hello politely, version {i}."}]},
                       "preferred_output": [{"role": "assistant", "content": f"Hello, and welcome ({i})."}],
                       "non_preferred_output": [{"role": "assistant", "content": f"hey ({i})"}]})


def ex(*messages, **extra):
    d = {"messages": list(messages)}
    d.update(extra)
    return json.dumps(d)


def u(text="Hello"):
    return {"role": "user", "content": text}


def a(text="billing", **kw):
    m = {"role": "assistant", "content": text}
    m.update(kw)
    return m


CASES = []  # (file, args, exit, errors, warnings, [(line, code, message)], lines)


def case(name, bad, expect, args="-", exit=1, errors=1, warnings=0, n_fill=10, dpo=False):
    """bad: {line number: text} placed among n_fill filler lines."""
    total = n_fill + len(bad)
    lines, f = [], 0
    for ln in range(1, total + 1):
        if ln in bad:
            lines.append(bad[ln])
        else:
            lines.append(dpo_filler(f) if dpo else filler(f))
            f += 1
    CASES.append((name, args, exit, errors, warnings, expect, "".join(l + "\n" for l in lines)))


# ---- the file and its lines ----
case("bad_utf8.jsonl", {4: "(replaced below)"}, [(4, "invalid_utf8", "line 4: invalid UTF-8 at column 186 (byte 0xFF); save the file as UTF-8")])
case("bad_json_trailing_comma.jsonl", {3: ex(u(), a())[:-1] + ",}"},
     [(3, "invalid_json", "line 3: invalid JSON at column 98: string or '}' expected near '}'")])
case("bad_json_truncated.jsonl", {5: ex(u(), a())[:-2]},
     [(5, "invalid_json", "line 5: invalid JSON at column 95: ']' expected near end of file")])
case("bad_json_single_quotes.jsonl", {2: "{'messages': []}"},
     [(2, "invalid_json", "line 2: invalid JSON at column 2: string or '}' expected near '''")])
case("bad_json_duplicate_key.jsonl", {6: '{"messages": [], "messages": [{"role": "user", "content": "x"}]}'},
     [(6, "invalid_json", "line 6: invalid JSON at column 27: duplicate object key near '\"messages\"'")])
case("empty_line.jsonl", {6: ""}, [(6, "empty_line", "line 6: empty line (each line must hold one JSON object)")])
case("blank_line.jsonl", {11: "   \t"}, [(11, "empty_line", "line 11: empty line (each line must hold one JSON object)")])
case("not_an_object_list.jsonl", {2: json.dumps([u(), a()])},
     [(2, "not_an_object", "line 2: expected a JSON object, got a list")])
case("not_an_object_string.jsonl", {9: '"just a string"'},
     [(9, "not_an_object", "line 9: expected a JSON object, got a string")])
case("too_few_examples.jsonl", {}, [(0, "invalid_n_examples", "Training file has 3 example(s), but must have at least 10 examples")],
     n_fill=3)
case("empty_file.jsonl", {}, [(0, "invalid_n_examples", "Training file has 0 example(s), but must have at least 10 examples")],
     n_fill=0)

# ---- the example ----
case("legacy_prompt_completion.jsonl", {3: json.dumps({"prompt": "2+2=", "completion": "4"})},
     [(3, "unsupported_format", "line 3: prompt/completion pairs (the legacy completions format) are not supported: use chat \"messages\"")])
case("missing_messages.jsonl", {8: "{}"},
     [(8, "missing_messages", "line 8: messages: missing (each example needs a \"messages\" list)")])
case("messages_not_a_list.jsonl", {1: json.dumps({"messages": {"role": "user", "content": "hi"}})},
     [(1, "invalid_type", "line 1: messages: expected a list of messages, got an object")])
case("empty_messages.jsonl", {4: json.dumps({"messages": []})},
     [(4, "empty_messages", "line 4: messages: empty list (an example needs at least one message)")])
case("dpo_in_supervised.jsonl", {2: dpo_filler(99)},
     [(2, "method_mismatch", "line 2: a preference (DPO) example in a supervised dataset: validate it with the dpo method")])

# ---- messages ----
case("message_not_an_object.jsonl", {5: json.dumps({"messages": ["What is 2+2?", a("4")]})},
     [(5, "invalid_type", "line 5: messages[0]: expected a message object, got a string")])
case("missing_role.jsonl", {3: ex({"content": "hi"}, a())}, [(3, "missing_role", "line 3: messages[0].role: missing")])
case("role_not_a_string.jsonl", {3: ex({"role": 1, "content": "hi"}, a())},
     [(3, "invalid_type", "line 3: messages[0].role: expected a string, got a number")])
case("unknown_role.jsonl", {7: ex(SYSTEM, u(), {"role": "assistnat", "content": "billing"}, a())},
     [(7, "unknown_role", "line 7: messages[2].role: unknown role \"assistnat\"")])
case("unknown_message_key.jsonl", {2: ex({"role": "user", "content": "hi", "lang": "en"}, a())},
     [(2, "unknown_key", "line 2: messages[0].lang: unknown key for a user message (allowed: role, content, name)")])
case("weight_on_user.jsonl", {10: ex({"role": "user", "content": "hi", "weight": 1}, a())},
     [(10, "weight_not_allowed", "line 10: messages[0].weight: weight is only allowed on assistant messages")])
case("weight_not_0_or_1.jsonl", {4: ex(u(), a(weight=0.5))},
     [(4, "invalid_weight", "line 4: messages[1].weight: must be 0 or 1, got 0.5")])
case("weight_is_a_string.jsonl", {4: ex(u(), a(weight="1"))},
     [(4, "invalid_weight", "line 4: messages[1].weight: must be 0 or 1, got \"1\"")])
case("missing_content.jsonl", {6: ex({"role": "user"}, a())}, [(6, "missing_content", "line 6: messages[0].content: missing")])
case("null_content.jsonl", {6: ex({"role": "user", "content": None}, a())},
     [(6, "missing_content", "line 6: messages[0].content: null")])
case("assistant_without_content.jsonl", {3: ex(u(), {"role": "assistant"})},
     [(3, "missing_content", "line 3: messages[1].content: missing (an assistant message needs content unless it has tool_calls or function_call)")])
case("content_a_number.jsonl", {3: ex({"role": "user", "content": 42}, a())},
     [(3, "invalid_type", "line 3: messages[0].content: expected a string or a list of text parts, got a number")])
case("content_parts_empty.jsonl", {3: ex({"role": "user", "content": []}, a())},
     [(3, "invalid_content", "line 3: messages[0].content: empty list of content parts")])
case("content_part_not_object.jsonl", {3: ex({"role": "user", "content": ["hi"]}, a())},
     [(3, "invalid_content_part", "line 3: messages[0].content[0]: expected a content part object, got a string")])
case("content_part_missing_type.jsonl", {3: ex({"role": "user", "content": [{"text": "hi"}]}, a())},
     [(3, "invalid_content_part", "line 3: messages[0].content[0].type: missing (a text part is {\"type\": \"text\", \"text\": ...})")])
case("content_part_unknown_type.jsonl", {3: ex({"role": "user", "content": [{"type": "video", "text": "hi"}]}, a())},
     [(3, "invalid_content_part", "line 3: messages[0].content[0].type: unknown part type \"video\" (expected \"text\")")])
case("content_part_image.jsonl",
     {3: ex({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}, a())},
     [(3, "unsupported_content_part", "line 3: messages[0].content[0].type: \"image_url\" parts are not supported: ftune fine-tunes on text only")])
case("text_part_missing_text.jsonl", {3: ex({"role": "user", "content": [{"type": "text"}]}, a())},
     [(3, "invalid_content_part", "line 3: messages[0].content[0].text: missing")])
case("text_part_extra_key.jsonl", {3: ex({"role": "user", "content": [{"type": "text", "text": "hi", "lang": "en"}]}, a())},
     [(3, "unknown_key", "line 3: messages[0].content[0].lang: unknown key for a text part (allowed: type, text)")])
case("no_assistant_message.jsonl", {8: ex(SYSTEM, u())},
     [(8, "missing_assistant_message", "line 8: messages: no assistant message (an example needs at least one to train on)")])
case("all_weights_zero.jsonl", {8: ex(u(), a(weight=0))},
     [(8, "no_trained_assistant_message", "line 8: messages: every assistant message has weight 0 (nothing to train on)")])
case("empty_assistant_content.jsonl", {8: ex(u(), a(""))},
     [(8, "empty_assistant_content", "line 8: messages[1].content: empty assistant message (nothing to train on)")])
case("function_message_without_name.jsonl",
     {5: ex(u(), a(None, function_call={"name": "lookup", "arguments": "{}"}), {"role": "function", "content": "42"}, a("42"))},
     [(5, "missing_key", "line 5: messages[2].name: missing (a function message names the function it answers)")])

# ---- tools and tool calls ----
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                                                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def call(cid="call_1", name="get_weather", args='{"city": "Paris"}'):
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def tool_ex(calls, answers=None, **extra):
    msgs = [u("Weather in Paris?"), a(None, tool_calls=calls)]
    for cid in answers if answers is not None else [c["id"] for c in calls if isinstance(c, dict) and "id" in c]:
        msgs.append({"role": "tool", "tool_call_id": cid, "content": "18 C, sunny"})
    msgs.append(a("It is 18 C and sunny in Paris."))
    extra.setdefault("tools", [WEATHER_TOOL])
    return ex(*msgs, **extra)


case("tool_calls_not_a_list.jsonl", {4: ex(u(), a(None, tool_calls={"id": "call_1"}), a("ok"), tools=[WEATHER_TOOL])},
     [(4, "invalid_type", "line 4: messages[1].tool_calls: expected a list of tool calls, got an object"),
      (4, "missing_content", "line 4: messages[1].content: null (an assistant message needs content unless it has tool_calls or function_call)")],
     errors=2)
case("tool_call_missing_id.jsonl", {4: tool_ex([{"type": "function", "function": {"name": "get_weather", "arguments": "{}"}}], answers=[])},
     [(4, "invalid_tool_call", "line 4: messages[1].tool_calls[0].id: missing (the id that the tool message answers)")])
case("tool_call_wrong_type.jsonl", {4: tool_ex([dict(call(), type="fn")])},
     [(4, "invalid_tool_call", "line 4: messages[1].tool_calls[0].type: must be \"function\", got \"fn\"")])
case("tool_call_arguments_object.jsonl", {4: tool_ex([call(args={"city": "Paris"})])},
     [(4, "invalid_type", "line 4: messages[1].tool_calls[0].function.arguments: expected a string (the arguments as JSON text), got an object")])
case("tool_call_missing_function.jsonl", {4: tool_ex([{"id": "call_1", "type": "function"}])},
     [(4, "invalid_tool_call", "line 4: messages[1].tool_calls[0].function: missing (the function called: name and arguments)")])
case("tool_call_bad_name.jsonl", {4: tool_ex([call(name="get weather")])},
     [(4, "invalid_tool_call", "line 4: messages[1].tool_calls[0].function.name: \"get weather\" is not a valid function name (1 to 64 letters, digits, '_' or '-')")])
case("duplicate_tool_call_id.jsonl", {4: tool_ex([call("call_1"), call("call_1", args='{"city": "Lyon"}')], answers=["call_1"])},
     [(4, "duplicate_tool_call_id", "line 4: messages[1].tool_calls[1].id: \"call_1\" is already used by messages[1].tool_calls[0]")])
case("tool_message_without_id.jsonl",
     {4: ex(u("Weather?"), a(None, tool_calls=[call()]), {"role": "tool", "content": "18 C"}, a("18 C."), tools=[WEATHER_TOOL])},
     [(4, "missing_tool_call_id", "line 4: messages[2].tool_call_id: missing (a tool message names the call it answers)")])
case("tool_message_unknown_id.jsonl", {4: tool_ex([call("call_1")], answers=["call_9"])},
     [(4, "unknown_tool_call_id", "line 4: messages[2].tool_call_id: \"call_9\" answers no earlier tool call")])
case("tool_answer_before_call.jsonl",
     {4: ex(u("Weather?"), {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}, a(None, tool_calls=[call()]),
            a("18 C."), tools=[WEATHER_TOOL])},
     [(4, "unknown_tool_call_id", "line 4: messages[1].tool_call_id: \"call_1\" answers no earlier tool call")])
case("tools_not_a_list.jsonl", {4: tool_ex([call()], tools=WEATHER_TOOL)},
     [(4, "invalid_type", "line 4: tools: expected a list of tools, got an object")])
case("tool_wrong_type.jsonl", {4: tool_ex([call()], tools=[dict(WEATHER_TOOL, type="retrieval")])},
     [(4, "invalid_tool", "line 4: tools[0].type: must be \"function\", got \"retrieval\"")])
case("tool_without_name.jsonl", {4: tool_ex([call()], tools=[WEATHER_TOOL, {"type": "function", "function": {"description": "x"}}])},
     [(4, "invalid_tool", "line 4: tools[1].function.name: missing (a function needs a name)")])
case("duplicate_tool_name.jsonl", {4: tool_ex([call()], tools=[WEATHER_TOOL, WEATHER_TOOL])},
     [(4, "duplicate_tool_name", "line 4: tools[1].function.name: \"get_weather\" is already defined by tools[0]")])
case("parallel_calls_disabled.jsonl",
     {4: tool_ex([call("call_1"), call("call_2", args='{"city": "Lyon"}')], parallel_tool_calls=False)},
     [(4, "parallel_tool_calls_disabled", "line 4: messages[1].tool_calls: 2 calls in one message, but parallel_tool_calls is false")])
case("parallel_not_boolean.jsonl", {4: tool_ex([call()], parallel_tool_calls="no")},
     [(4, "invalid_type", "line 4: parallel_tool_calls: expected a boolean, got a string")])
case("function_call_missing_arguments.jsonl",
     {5: ex(u(), a(None, function_call={"name": "lookup"}), {"role": "function", "name": "lookup", "content": "42"}, a("42"))},
     [(5, "invalid_function_call", "line 5: messages[1].function_call.arguments: missing (the arguments as JSON text, e.g. \"{}\")")])

# ---- DPO ----
DPO = "--method dpo"
case("dpo_missing_input.jsonl",
     {3: json.dumps({"preferred_output": [a("Hello.")], "non_preferred_output": [a("hey")]})},
     [(3, "missing_key", "line 3: input: missing (a DPO example needs input, preferred_output and non_preferred_output)")], args=DPO, dpo=True)
case("dpo_missing_preferred.jsonl",
     {3: json.dumps({"input": {"messages": [u()]}, "non_preferred_output": [a("hey")]})},
     [(3, "missing_key", "line 3: preferred_output: missing (a DPO example needs input, preferred_output and non_preferred_output)")],
     args=DPO, dpo=True)
case("dpo_two_outputs.jsonl",
     {7: json.dumps({"input": {"messages": [u()]}, "preferred_output": [a("Hello."), a("Hi!")], "non_preferred_output": [a("hey")]})},
     [(7, "invalid_output", "line 7: preferred_output: must hold exactly one assistant message, got 2")], args=DPO, dpo=True)
case("dpo_output_user_role.jsonl",
     {7: json.dumps({"input": {"messages": [u()]}, "preferred_output": [a("Hello.")], "non_preferred_output": [u("hey")]})},
     [(7, "output_not_assistant", "line 7: non_preferred_output[0].role: must be \"assistant\" in a DPO output, got \"user\"")],
     args=DPO, dpo=True)
case("dpo_output_weight.jsonl",
     {2: json.dumps({"input": {"messages": [u()]}, "preferred_output": [a("Hello.", weight=1)], "non_preferred_output": [a("hey")]})},
     [(2, "weight_not_allowed", "line 2: preferred_output[0].weight: weight is only used in supervised examples")], args=DPO, dpo=True)
case("dpo_input_not_object.jsonl",
     {2: json.dumps({"input": [u()], "preferred_output": [a("Hello.")], "non_preferred_output": [a("hey")]})},
     [(2, "invalid_type", "line 2: input: expected an object with messages, got a list")], args=DPO, dpo=True)
case("dpo_input_without_messages.jsonl",
     {2: json.dumps({"input": {}, "preferred_output": [a("Hello.")], "non_preferred_output": [a("hey")]})},
     [(2, "missing_messages", "line 2: input.messages: missing (the conversation before the two outputs)")], args=DPO, dpo=True)
case("supervised_in_dpo.jsonl", {5: filler(99)},
     [(5, "method_mismatch", "line 5: a supervised chat example in a DPO dataset (a DPO example has input, preferred_output and non_preferred_output)")],
     args=DPO, dpo=True)

# ---- several problems in one file, and in one example ----
case("many_problems.jsonl", {
    2: ex({"role": "user", "content": "hi", "weight": 1}, {"role": "assistnat", "content": "x"}, {"role": "assistant"}),
    5: "",
    7: "{not json}",
    9: json.dumps({"messages": [u(), a(weight=2)], "metadata": {"source": "crm"}}),
}, [
    (2, "weight_not_allowed", "line 2: messages[0].weight: weight is only allowed on assistant messages"),
    (2, "unknown_role", "line 2: messages[1].role: unknown role \"assistnat\""),
    (2, "missing_content", "line 2: messages[2].content: missing (an assistant message needs content unless it has tool_calls or function_call)"),
    (5, "empty_line", "line 5: empty line (each line must hold one JSON object)"),
    (7, "invalid_json", "line 7: invalid JSON at column 4: string or '}' expected near 'not'"),
    (9, "invalid_weight", "line 9: messages[1].weight: must be 0 or 1, got 2"),
    (9, "unknown_example_key", "line 9: metadata: unknown key, ignored (an example has messages, tools, parallel_tool_calls, functions)"),
], errors=6, warnings=1)
case("many_bad_lines.jsonl", {i: "[]" for i in range(11, 161)},
     [(11, "not_an_object", "line 11: expected a JSON object, got a list"),
      (15, "not_an_object", "line 15: expected a JSON object, got a list")],
     args="--max-problems 5", errors=150)

# ---- warnings only (exit 0) ----
case("warn_empty_user_content.jsonl", {3: ex(u(""), a())}, [(3, "empty_content", "line 3: messages[0].content: empty")],
     exit=0, errors=0, warnings=1)
case("warn_duplicate.jsonl", {7: filler(1)}, [(7, "duplicate_example", "line 7: exact duplicate of line 2")],
     exit=0, errors=0, warnings=1)
case("warn_conflicting_answers.jsonl",
     {11: json.dumps({"messages": [SYSTEM, {"role": "user", "content": "Question number 3: why was I charged twice?"},
                                   {"role": "assistant", "content": "technical"}]})},
     [(11, "conflicting_answers", "line 11: same prompt as line 4 but a different answer (contradictory examples confuse the model)")],
     exit=0, errors=0, warnings=1)
case("warn_unknown_example_key.jsonl", {3: json.dumps({"messages": [u(), a()], "id": "ex-3"})},
     [(3, "unknown_example_key", "line 3: id: unknown key, ignored (an example has messages, tools, parallel_tool_calls, functions)")],
     exit=0, errors=0, warnings=1)
case("warn_arguments_not_json.jsonl", {4: tool_ex([call(args="city=Paris")])},
     [(4, "invalid_tool_arguments", "line 4: messages[1].tool_calls[0].function.arguments: not valid JSON (invalid token at byte 0)")],
     exit=0, errors=0, warnings=1)
case("warn_unknown_tool.jsonl", {4: tool_ex([call(name="get_wether")])},
     [(4, "unknown_tool", "line 4: messages[1].tool_calls[0].function.name: \"get_wether\" is not one of the tools defined in this example")],
     exit=0, errors=0, warnings=1)
case("warn_empty_tool_calls.jsonl", {4: ex(u(), a("billing", tool_calls=[]))},
     [(4, "empty_tool_calls", "line 4: messages[1].tool_calls: empty list (leave tool_calls out instead)")],
     exit=0, errors=0, warnings=1)
case("warn_dpo_old_names.jsonl",
     {2: json.dumps({"input": {"messages": [u()]}, "preferred_completion": [a("Hello.")], "non_preferred_output": [a("hey")]})},
     [(2, "deprecated_key", "line 2: preferred_completion: the old name of preferred_output")], args=DPO, exit=0, errors=0, warnings=1,
     dpo=True)
case("warn_dpo_identical.jsonl",
     {2: json.dumps({"input": {"messages": [u()]}, "preferred_output": [a("Hello.")], "non_preferred_output": [a("Hello.")]})},
     [(2, "identical_outputs", "line 2: non_preferred_output: identical to preferred_output (the pair teaches nothing)")],
     args=DPO, exit=0, errors=0, warnings=1, dpo=True)
case("warn_dpo_input_ends_with_assistant.jsonl",
     {2: json.dumps({"input": {"messages": [u(), a("Hi.")]}, "preferred_output": [a("Hello.")], "non_preferred_output": [a("hey")]})},
     [(2, "input_ends_with_assistant", "line 2: input.messages: the input ends with an assistant message; the outputs should be the next assistant turn")],
     args=DPO, exit=0, errors=0, warnings=1, dpo=True)
SMOL = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
case("warn_too_long.jsonl", {6: ex(u("word " * 60), a())},
     [(6, "too_long", "line 6: 95 tokens, over the 80-token limit: the last 15 will be cut, and with them every trained token")],
     args=f"--model {SMOL} --max-length 80", exit=0, errors=0, warnings=1)


def write_valid():
    """Valid files with every allowed feature: no errors, no warnings."""
    valid = {}
    valid["valid_basic.jsonl"] = [filler(i) for i in range(12)]
    multi = []
    for i in range(10):
        multi.append(ex({"role": "developer", "content": "Answer briefly."}, u(f"Hi, I am user {i}."), a("Hello! How can I help?", weight=0),
                        {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": f"{i} + {i}?"}], "name": "alice"},
                        a(f"{i + i}.", weight=1, name="helper"), u("Thanks!"), a("You're welcome \u2014 bye \U0001F44B", refusal=None)))
    valid["valid_multiturn_weights.jsonl"] = multi
    tools = []
    for i in range(10):
        city = ["Paris", "Lyon", "Nice", "Lille", "Brest"][i % 5]
        calls = [call(f"call_{i}a", args=json.dumps({"city": city}))]
        if i % 2:
            calls.append(call(f"call_{i}b", args=json.dumps({"city": "Rome"})))
        msgs = [SYSTEM, u(f"Weather in {city}? ({i})"), a(None, tool_calls=calls)]
        for c in calls:
            msgs.append({"role": "tool", "tool_call_id": c["id"], "content": [{"type": "text", "text": f"{10 + i} C"}]})
        msgs.append(a(f"It is {10 + i} C."))
        extra = {"tools": [WEATHER_TOOL, {"type": "function", "function": {"name": "get-time", "strict": True}}]}
        if i % 2 == 0:
            extra["parallel_tool_calls"] = False
        else:
            extra["parallel_tool_calls"] = True
        tools.append(ex(*msgs, **extra))
    # legacy functions / function_call / function role
    tools.append(ex(u("What is 6 x 7?"), a(None, function_call={"name": "calc", "arguments": "{\"expr\": \"6*7\"}"}),
                    {"role": "function", "name": "calc", "content": "42"}, a("42."),
                    functions=[{"name": "calc", "description": "Evaluates arithmetic", "parameters": {"type": "object"}}]))
    valid["valid_tools.jsonl"] = tools
    valid["valid_dpo.jsonl"] = [dpo_filler(i) for i in range(8)] + [
        json.dumps({"input": {"messages": [SYSTEM, u("Card declined"), a("Which card?"), u("Visa")],
                              "tools": [WEATHER_TOOL], "parallel_tool_calls": False},
                    "preferred_output": [a("technical")], "non_preferred_output": [a("billing")]}),
        json.dumps({"input": {"messages": [u("Weather?"), a(None, tool_calls=[call()]), {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}],
                              "tools": [WEATHER_TOOL]},
                    "preferred_output": [a("It is sunny.")], "non_preferred_output": [a("No idea.")]})]
    valid["valid_escapes_unicode.jsonl"] = [ex(u(f"Caf\u00e9 \u2603 \U0001F600 line\nbreak \"quoted\" tab\t{i}"), a("\\u00e9 stays text"))
                                            for i in range(10)]
    for name, lines in valid.items():
        CASES.append((name, DPO if "dpo" in name else "-", 0, 0, 0, [], "\n".join(lines) + "\n"))
    # A BOM and CRLF line ends, and no newline after the last line.
    body = "\ufeff" + "\r\n".join(filler(i) for i in range(10))
    CASES.append(("valid_bom_crlf.jsonl", "-", 0, 0, 0, [], body))


write_valid()

with open(os.path.join(HERE, "cases.txt"), "w") as man:
    man.write("# file\targs\texit\terrors\twarnings\tline\tcode\tmessage  (written by make_cases.py)\n")
    for name, args, exit, errors, warnings, expect, text in CASES:
        path = os.path.join(HERE, name)
        data = text.encode("utf-8")
        if name == "bad_utf8.jsonl":  # a Latin-1 byte inside line 4's content
            lines = data.split(b"\n")
            lines[3] = filler(99).replace("twice", "tw\x00ce").encode().replace(b"\x00", b"\xff")
            data = b"\n".join(lines)
        with open(path, "wb") as f:
            f.write(data)
        if not expect:
            man.write(f"{name}\t{args}\t{exit}\t{errors}\t{warnings}\t-\t-\t-\n")
        for line, code, message in expect:
            man.write(f"{name}\t{args}\t{exit}\t{errors}\t{warnings}\t{line}\t{code}\t{message}\n")
print(f"{len(CASES)} files")
