#!/usr/bin/env python3
"""make_token_golden.py: writes token_counts.json, the reference token counts that
tests/unit/test_validate.c compares ftune's per-example counting (src/data/example_tokens.c) with.

The reference is independent of ftune: the model's own chat template is rendered with jinja2 (the
way transformers' apply_chat_template does), the whole text is tokenized once with the PyPI
`tokenizers` package, and a token is "trained" when its character offsets fall inside a trained
assistant message's span: from the end of render(messages[:i], add_generation_prompt=True) to the
end of render(messages[:i+1]). ftune's documented input policy is applied first (developer is
rendered as system; a function message as tool; text parts are joined; with a template that
renders tools (its source mentions `tools`, as Qwen2.5's), the example's tools and an assistant's
tool calls are passed to it, each call's arguments string parsed into the value it holds, as vLLM
hands them to transformers; otherwise the calls are appended to the assistant's text as
{"name": ..., "arguments": ...} lines and the tools are not rendered).

Run from the repository root: python3 tests/data/validate/make_token_golden.py
Needs: jinja2, gguf, tokenizers (PyPI).
"""
import json
import os

import gguf
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "token_counts.json")

MODELS = {
    # name: (model path for ftune, template source, tokenizer.json)
    "smollm2_gguf": ("models/SmolLM2-135M-Instruct.Q4_1.gguf", None, "models/smollm2-135m-instruct-tokenizer/tokenizer.json"),
    "tiny_qwen2_hf": ("models/tiny-qwen2", "models/tiny-qwen2/tokenizer_config.json", "models/tiny-qwen2/tokenizer.json"),
}

CASES = [
    {"name": "single_turn", "example": {"messages": [
        {"role": "system", "content": "You are a support classifier."},
        {"role": "user", "content": "My card was charged twice."},
        {"role": "assistant", "content": "billing"}]}},
    {"name": "no_system", "example": {"messages": [
        {"role": "user", "content": "Hello there, how are you?"},
        {"role": "assistant", "content": "Fine, thanks! And you?"}]}},
    {"name": "multi_turn_weights", "example": {"messages": [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help?", "weight": 0},
        {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "2 + 2?"}]},
        {"role": "assistant", "content": "4.", "weight": 1},
        {"role": "user", "content": "Thanks \u2014 bye \U0001F44B"},
        {"role": "assistant", "content": "You're welcome!"}]}},
    {"name": "tool_call", "example": {"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"},
        {"role": "assistant", "content": "It is 18 C and sunny."}],
        "tools": [{"type": "function", "function": {"name": "get_weather"}}]}},
    {"name": "special_text_and_newlines", "example": {"messages": [
        {"role": "user", "content": "line one\nline two\n\n  indented <b>tag</b> 12345"},
        {"role": "assistant", "content": "ok\n"}]}},
]


def flatten(example, with_tools):
    """ftune's policy: messages as (role, content, trained)."""
    out = []
    for m in example["messages"]:
        role = {"developer": "system", "function": "tool"}.get(m["role"], m["role"])
        c = m.get("content")
        text = c if isinstance(c, str) else "".join(p["text"] for p in c) if isinstance(c, list) else ""
        msg = {"role": role, "content": text}
        if with_tools and m.get("tool_calls"):
            msg["tool_calls"] = [{"type": "function", "function": {
                "name": call["function"]["name"], "arguments": json.loads(call["function"]["arguments"])}}
                for call in m["tool_calls"]]
        else:
            for call in m.get("tool_calls") or []:
                fn = call["function"]
                text += ("\n" if text else "") + '{"name": "' + fn["name"] + '", "arguments": ' + fn["arguments"] + "}"
            msg["content"] = text
        trained = m["role"] == "assistant" and m.get("weight", 1) == 1
        out.append((msg, trained))
    return out


def load_template(path, tc_path):
    if tc_path:
        tc = json.load(open(tc_path))
        return tc["chat_template"], tc.get("bos_token"), tc.get("eos_token")
    r = gguf.GGUFReader(path)
    f = r.fields["tokenizer.chat_template"]
    return bytes(f.parts[f.data[0]]).decode(), None, None


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    # transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    result = {"description": "reference token counts; see make_token_golden.py", "models": {}}
    for name, (path, tc_path, tok_path) in MODELS.items():
        src, bos, eos = load_template(path, tc_path)
        tmpl = env.from_string(src)
        tok = Tokenizer.from_file(tok_path)

        with_tools = "tools" in src

        cases = []
        for case in CASES:
            tools = (case["example"].get("tools") or None) if with_tools else None

            def render(msgs, gen):
                return tmpl.render(messages=msgs, add_generation_prompt=gen, tools=tools, bos_token=bos or "",
                                   eos_token=eos or "")

            flat = flatten(case["example"], with_tools)
            msgs = [m for m, _ in flat]
            full = render(msgs, False)
            spans = []
            for i, (_, trained) in enumerate(flat):
                if not trained:
                    continue
                start = len(render(msgs[:i], True)) if i > 0 else 0
                end = len(render(msgs[: i + 1], False))
                assert full.startswith(render(msgs[: i + 1], False))
                spans.append((start, end))
            enc = tok.encode(full, add_special_tokens=False)
            trained = sum(1 for (s, e) in enc.offsets if any(a <= s and e <= b for a, b in spans))
            cases.append({"name": case["name"], "example": case["example"], "tokens": len(enc.ids), "trained_tokens": trained,
                          "ids": enc.ids})
        result["models"][name] = {"path": path, "cases": cases}
    with open(OUT, "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
