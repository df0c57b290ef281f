"""test_structured.py: structured outputs (response_format json_schema and json_object) on
/v1/chat/completions through the real `ftune serve` and the official openai SDK. Constrained
decoding must make every reply parse and validate against its schema: on the base model
(SmolLM2-135M-Instruct) and on a PEFT adapter of it (scripts/write_peft_adapter.py), greedy and
sampled at temperature 1 under several seeds, streamed and not, with n > 1; json_object replies are
JSON objects; the SDK's beta parse helper fills message.parsed; a reply cut by max_tokens says
"length"; and schemas outside OpenAI's strict subset are 400s naming the keyword and its place
(param response_format), as json_object without the word "json" in the messages is (param
messages). Validation uses the `jsonschema` package. Plain script: `python3
tests/e2e/test_structured.py`.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import jsonschema  # noqa: E402
import openai  # noqa: E402

from serve_util import BINARY, MODELS, Server, check, run_tests, stop_and_clean  # noqa: E402
from write_peft_adapter import model_dims, write_adapter  # noqa: E402

BASE = "SmolLM2-135M-Instruct.Q4_1"
HF_BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"
MAX_TOKENS = 160

TICKET = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["billing", "bug", "feature request"]},
        "priority": {"type": "integer"},
        "summary": {"type": "string"},
        "urgent": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "assignee": {"type": ["string", "null"]},
    },
    "required": ["label", "priority", "summary", "urgent", "tags", "assignee"],
    "additionalProperties": False,
}

# for the PEFT adapter, whose random factors make free-form strings loop: no free text
LABEL = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["billing", "bug", "feature request"]},
        "priority": {"type": "integer"},
        "urgent": {"type": "boolean"},
        "channels": {"type": "array", "items": {"enum": ["email", "phone"]}, "maxItems": 2},
        "escalate": {"anyOf": [{"type": "null"}, {"const": "manager"}]},
    },
    "required": ["label", "priority", "urgent", "channels", "escalate"],
    "additionalProperties": False,
}
CASES = (("SmolLM2-135M-Instruct.Q4_1", TICKET), ("triage", LABEL))

# a recursive schema: a tree of nodes through $defs/$ref, with anyOf and const
TREE = {
    "type": "object",
    "properties": {"root": {"$ref": "#/$defs/node"}},
    "required": ["root"],
    "additionalProperties": False,
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "value": {"anyOf": [{"type": "number"}, {"const": "unknown"}]},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2},
            },
            "required": ["name", "value", "children"],
            "additionalProperties": False,
        }
    },
}

MESSAGES = [
    {"role": "system", "content": "You triage support tickets. Answer in JSON."},
    {"role": "user", "content": "I was charged twice for my subscription this month, please refund one."},
]
# a 135M model can loop inside a free-form string until max_tokens (then finish_reason is "length",
# as OpenAI's): the greedy requests damp repetition with a frequency penalty (applied before the mask)
PENALTY = 1.0


class Ctx:
    pass


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-structured-")
    dims = model_dims(os.path.join(MODELS, BASE + ".gguf"), BINARY)
    c.adapter = write_adapter(os.path.join(c.tmp, "peft"), dims, HF_BASE, seed=1, rank=8, alpha=16,
                              targets=("q_proj", "v_proj"), b_scale=0.5, dtype="BF16")
    c.server = Server(os.path.join(c.tmp, "data"), extra_args=["--adapter", "triage=" + c.adapter,
                                                                   "--threads", "1"]).start()
    c.client = c.server.client(timeout=300.0)  # a shared 2-core machine can be slow
    return c


def teardown(c):
    stop_and_clean(c)


def rf(schema, name="ticket", strict=True):
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}


def valid(text, schema, what):
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise AssertionError("%s: not JSON (%s): %r" % (what, e, text))
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        raise AssertionError("%s: does not validate (%s): %r" % (what, e.message, text))
    return doc


def completed(choice, what):
    check(choice.finish_reason == "stop", "%s: finish_reason %r, text %r" % (what, choice.finish_reason,
                                                                             choice.message.content))


def test_schema_greedy_base_and_adapter(c):
    for model, schema in CASES:
        r = c.client.chat.completions.create(model=model, messages=MESSAGES, response_format=rf(schema),
                                             max_tokens=MAX_TOKENS, temperature=0, frequency_penalty=PENALTY)
        completed(r.choices[0], model)
        doc = valid(r.choices[0].message.content, schema, model)
        check(list(doc) == list(schema["properties"]), "properties in the schema's order: %r" % list(doc))


def test_schema_sampled_seeds_n(c):
    done = 0
    for model, schema in CASES:
        for seed in (1, 2):
            r = c.client.chat.completions.create(model=model, messages=MESSAGES, response_format=rf(schema),
                                                 max_tokens=MAX_TOKENS, temperature=1, seed=seed, n=2)
            check(len(r.choices) == 2, "two choices")
            for ch in r.choices:
                if ch.finish_reason == "length":  # cut by max_tokens: a prefix, as OpenAI's
                    check(ch.message.content.startswith("{"), "a prefix: %r" % ch.message.content)
                    continue
                completed(ch, "%s seed %d" % (model, seed))
                valid(ch.message.content, schema, "%s seed %d choice %d" % (model, seed, ch.index))
                done += 1
    check(done >= 4, "at least half the sampled replies complete (%d of 8)" % done)


def test_schema_streaming(c):
    for model, schema in CASES:
        stream = c.client.chat.completions.create(model=model, messages=MESSAGES, response_format=rf(schema),
                                                  max_tokens=MAX_TOKENS, temperature=1, seed=7, stream=True)
        text, finish = "", None
        for ev in stream:
            for ch in ev.choices:
                text += ch.delta.content or ""
                finish = ch.finish_reason or finish
        if finish != "length":
            check(finish == "stop", "finish %r" % finish)
            valid(text, schema, "streamed " + model)
        # the same request not streamed gives the same text
        r = c.client.chat.completions.create(model=model, messages=MESSAGES, response_format=rf(schema),
                                             max_tokens=MAX_TOKENS, temperature=1, seed=7)
        check(r.choices[0].message.content == text, "streamed and not: %r vs %r" % (text, r.choices[0].message.content))


def test_recursive_schema(c):
    for seed in (1, 2):
        r = c.client.chat.completions.create(model=BASE, messages=[{"role": "user", "content": "A family tree."}],
                                             response_format=rf(TREE, "tree"), max_tokens=200, temperature=1,
                                             seed=seed)
        if r.choices[0].finish_reason == "stop":
            valid(r.choices[0].message.content, TREE, "tree seed %d" % seed)


def test_parse_helper(c):
    """The SDK's own strict schema from a pydantic model (titles, anyOf for Optional, Literal enums)."""
    from typing import Literal, Optional

    from pydantic import BaseModel

    class Triage(BaseModel):
        label: Literal["billing", "bug", "feature request"]
        priority: int
        urgent: bool
        assignee: Optional[str]

    r = c.client.beta.chat.completions.parse(model=BASE, messages=MESSAGES, response_format=Triage,
                                             max_tokens=MAX_TOKENS, temperature=0, frequency_penalty=PENALTY)
    parsed = r.choices[0].message.parsed
    check(isinstance(parsed, Triage) and parsed.label in ("billing", "bug", "feature request"), "parsed %r" % (parsed,))


def test_json_object(c):
    for model, seed in ((BASE, 1), ("triage", 2), (BASE, 3)):
        r = c.client.chat.completions.create(model=model, messages=MESSAGES, response_format={"type": "json_object"},
                                             max_tokens=MAX_TOKENS, temperature=1, seed=seed)
        ch = r.choices[0]
        if ch.finish_reason == "stop":
            check(isinstance(json.loads(ch.message.content), dict), "a JSON object: %r" % ch.message.content)
        else:
            check(ch.message.content.startswith("{"), "a JSON object's prefix: %r" % ch.message.content)


def test_length_and_logprobs(c):
    r = c.client.chat.completions.create(model=BASE, messages=MESSAGES, response_format=rf(TICKET), max_tokens=3,
                                         temperature=0, logprobs=True, top_logprobs=5)
    ch = r.choices[0]
    check(ch.finish_reason == "length", "cut by max_tokens: %r" % ch.finish_reason)
    check(ch.message.content.startswith("{"), "a prefix of the document: %r" % ch.message.content)
    lps = ch.logprobs.content
    check(len(lps) == 3, "three logprobs")
    # the first token must open the object: every alternative listed does too
    for t in lps[0].top_logprobs:
        check(t.token.lstrip().startswith("{") or t.token.startswith("{"), "top alternative %r" % t.token)
    check(lps[0].logprob <= 0, "a log-probability")


def bad_request(c, response_format, messages=MESSAGES):
    try:
        c.client.chat.completions.create(model=BASE, messages=messages, response_format=response_format, max_tokens=4)
    except openai.BadRequestError as e:
        return e
    raise AssertionError("accepted %r" % (response_format,))


def test_refusals(c):
    cases = [
        ({"type": "object", "properties": {"name": {"type": "string", "minLength": 2}}, "required": ["name"],
          "additionalProperties": False}, "'minLength' at #/properties/name"),
        ({"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}, "required": ["n"],
          "additionalProperties": False}, "'minimum' at #/properties/n"),
        ({"type": "object", "properties": {"s": {"type": "string", "pattern": "^a"}}, "required": ["s"],
          "additionalProperties": False}, "'pattern' at #/properties/s"),
        ({"type": "object", "properties": {"a": {"allOf": [{"type": "string"}]}}, "required": ["a"],
          "additionalProperties": False}, "'allOf' at #/properties/a"),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, "additionalProperties"),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": [], "additionalProperties": False},
         "Missing 'a'"),
        ({"type": "array", "items": {"type": "string"}}, "type: \"object\""),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}, "required": ["a"],
          "additionalProperties": False, "$defs": {"x": {"anyOf": [{"$ref": "#/$defs/x"}, {"type": "null"}]}}},
         "left recursion"),
    ]
    for schema, needle in cases:
        e = bad_request(c, rf(schema))
        err = e.body if isinstance(e.body, dict) else {}
        check(e.status_code == 400 and err.get("param") == "response_format", "400 response_format: %r" % (e.body,))
        check(needle in err.get("message", ""), "%r in %r" % (needle, err.get("message")))
        check(err.get("message", "").startswith("Invalid schema for response_format 'ticket': "), err.get("message"))
    e = bad_request(c, {"type": "json_object"}, [{"role": "user", "content": "Hello"}])
    check(e.body.get("param") == "messages" and "json" in e.body.get("message", ""), "json_object needs 'json': %r" % e.body)
    e = bad_request(c, {"type": "json_schema", "json_schema": {"name": "bad name!", "schema": TICKET}})
    check(e.body.get("param") == "response_format.json_schema.name", "a bad name: %r" % e.body)


if __name__ == "__main__":
    run_tests([test_schema_greedy_base_and_adapter, test_schema_sampled_seeds_n, test_schema_streaming,
               test_recursive_schema, test_parse_helper, test_json_object, test_length_and_logprobs, test_refusals],
              setup, teardown)
