"""test_responses.py: the Responses API (/v1/responses) through the real `ftune serve` and the
official openai SDK, on SmolLM2-135M-Instruct: responses.create (the text equal to a chat
completion of the same messages at temperature 0: one generation path), streaming parsed by the SDK
(responses.stream and stream=True: the event sequence, consecutive sequence_numbers, deltas adding
up to the final text), retrieve, input_items, delete, previous_response_id (the continued
conversation equal to the chat completion of the whole conversation, its prefix taken from the
cache), text.format json_schema (validated with the jsonschema package, also through
responses.parse) and json_object, max_output_tokens cutting a response (status incomplete), a
PEFT --adapter model and an alias, a second project that gets 404 for the first one's responses,
the fields ftune refuses with a 400 naming them, responses batched together (streamed or not)
equal to each alone, cancel (400: nothing runs in the background), and stored responses across a
restart. Plain script: `python3 tests/e2e/test_responses.py`.
"""
import json
import os
import subprocess
import sys
import tempfile
from typing import Literal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import jsonschema  # noqa: E402
import openai  # noqa: E402
import pydantic  # noqa: E402

from serve_util import (BINARY, MODELS, ROOT, Server, check, check_error_shape, describe, run_tests,  # noqa: E402
                        stop_and_clean)
from write_peft_adapter import model_dims, write_adapter  # noqa: E402

BASE = "SmolLM2-135M-Instruct.Q4_1"
HF_BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"
ALIAS = "gpt-4o-mini-2024-07-18"

TICKET = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["billing", "bug", "feature request"]},
        "priority": {"type": "integer"},
        "urgent": {"type": "boolean"},
    },
    "required": ["label", "priority", "urgent"],
    "additionalProperties": False,
}
TICKET_TEXT = "I was charged twice for my subscription this month, please refund one."

STREAM_ORDER_HEAD = ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added"]
STREAM_ORDER_TAIL = ["response.output_text.done", "response.content_part.done", "response.output_item.done"]


class Ctx:
    pass


def new_key(data_dir, project):
    r = subprocess.run([BINARY, "keys", "create", "--project", project, "--data", data_dir], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(r.returncode == 0, "ftune keys create: %s" % r.stderr.decode())
    return r.stdout.decode().strip()


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-responses-")
    c.data = os.path.join(c.tmp, "data")
    key_a, key_b = new_key(c.data, "alpha"), new_key(c.data, "beta")
    c.auth = {"Authorization": "Bearer " + key_a}
    dims = model_dims(os.path.join(MODELS, BASE + ".gguf"), BINARY)
    adapter = write_adapter(os.path.join(c.tmp, "peft"), dims, HF_BASE, seed=1, rank=8, alpha=16,
                            targets=("q_proj", "v_proj"), b_scale=0.5, dtype="BF16")
    c.server = Server(c.data, extra_args=["--adapter", "triage=" + adapter, "--alias", ALIAS + "=" + BASE,
                                          "--threads", "1", "--max-tokens", "200"]).start()
    c.client = c.server.client(api_key=key_a, timeout=300.0)  # a shared 2-core machine can be slow
    c.other = c.server.client(api_key=key_b, timeout=300.0)
    return c


def teardown(c):
    stop_and_clean(c)


def refused(fn, what, status, param=None, code=None):
    """fn must raise the SDK's error for status with that param and code; returns the error."""
    try:
        fn()
    except openai.APIStatusError as e:
        check(e.status_code == status, "%s: status %d, want %d: %s" % (what, e.status_code, status, e.body))
        check(isinstance(e.body, dict) and all(k in e.body for k in ("message", "type", "param", "code")),
              "%s: not an OpenAI error body: %r" % (what, e.body))
        if param is not None:
            check(e.body.get("param") == param, "%s: param %r, want %r (%s)" % (what, e.body.get("param"), param,
                                                                                 e.body.get("message")))
        if code is not None:
            check(e.body.get("code") == code, "%s: code %r, want %r" % (what, e.body.get("code"), code))
        return e
    raise AssertionError("%s: accepted" % what)


def chat_text(c, messages, max_tokens):
    r = c.client.chat.completions.create(model=BASE, messages=messages, temperature=0, max_tokens=max_tokens)
    return r.choices[0].message.content


def check_response(r, model, status="completed"):
    check(r.id.startswith("resp_") and r.object == "response", "id/object: %s %s" % (r.id, r.object))
    check(r.status == status, "status %r, want %r" % (r.status, status))
    check(r.model == model, "model %r, want %r" % (r.model, model))
    check(isinstance(r.created_at, (int, float)) and r.created_at > 1.6e9, "created_at %r" % r.created_at)
    check(r.error is None, "error %r" % r.error)
    check(len(r.output) == 1, "output: %r" % r.output)
    item = r.output[0]
    check(item.type == "message" and item.role == "assistant" and item.id.startswith("msg_"), "item %r" % item)
    check(item.status == status, "item status %r" % item.status)
    check(len(item.content) == 1 and item.content[0].type == "output_text", "content %r" % item.content)
    check(item.content[0].annotations == [], "annotations %r" % item.content[0].annotations)
    check(r.output_text == item.content[0].text, "output_text %r" % r.output_text)
    u = r.usage
    check(u.input_tokens > 0 and u.output_tokens > 0 and u.total_tokens == u.input_tokens + u.output_tokens,
          "usage %r" % u)
    check(u.output_tokens_details.reasoning_tokens == 0 and u.input_tokens_details.cached_tokens >= 0, "usage %r" % u)
    check(r.tools == [] and r.tool_choice == "auto" and r.parallel_tool_calls is True, "tools: %r" % r)
    check(r.text.format.type in ("text", "json_schema", "json_object"), "text %r" % r.text)


def test_create_is_the_chat_path(c):
    r = c.client.responses.create(model=BASE, instructions="Answer in one short sentence.",
                                  input="What is the capital of France?", max_output_tokens=40, temperature=0,
                                  metadata={"case": "capital"})
    check_response(r, BASE)
    check("Paris" in r.output_text, "the answer: %r" % r.output_text)
    check(r.instructions == "Answer in one short sentence." and r.metadata == {"case": "capital"},
          "echo: %r %r" % (r.instructions, r.metadata))
    check(r.temperature == 0 and r.top_p == 1 and r.max_output_tokens == 40 and r.store is True,
          "echo: %r" % r)
    check(r.incomplete_details is None and r.completed_at is not None and r.previous_response_id is None, "%r" % r)
    want = chat_text(c, [{"role": "system", "content": "Answer in one short sentence."},
                         {"role": "user", "content": "What is the capital of France?"}], 40)
    check(r.output_text == want, "the response %r differs from the chat completion %r" % (r.output_text, want))
    c.first = r
    # input as items: text parts of one message are joined; developer is the system role
    r2 = c.client.responses.create(model=BASE, temperature=0, max_output_tokens=40, input=[
        {"role": "developer", "content": "Answer in one short sentence."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is the capital "},
                                                          {"type": "input_text", "text": "of France?"}]}])
    check(r2.output_text == want, "item input: %r, want %r" % (r2.output_text, want))


def test_retrieve_input_items_delete(c):
    r = c.first
    g = c.client.responses.retrieve(r.id)
    check(g.model_dump() == r.model_dump(), "retrieve differs:\n%r\n%r" % (g.model_dump(), r.model_dump()))
    items = c.client.responses.input_items.list(r.id)
    check(len(items.data) == 1, "input items: %r" % items.data)
    it = items.data[0]
    check(it.type == "message" and it.role == "user" and it.id.startswith("msg_"), "item %r" % it)
    check(it.content[0].type == "input_text" and it.content[0].text == "What is the capital of France?", "%r" % it)
    c.client.responses.delete(r.id)
    refused(lambda: c.client.responses.retrieve(r.id), "retrieve after delete", 404)
    refused(lambda: c.client.responses.delete(r.id), "delete twice", 404)
    refused(lambda: c.client.responses.input_items.list(r.id), "input items after delete", 404)
    refused(lambda: c.client.responses.retrieve("resp_nope"), "unknown id", 404)


def test_stream_events(c):
    kw = dict(model=BASE, instructions="Answer in one short sentence.", input="Name three colours.",
              max_output_tokens=120, temperature=0)
    with c.client.responses.stream(**kw) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    check(types[:4] == STREAM_ORDER_HEAD, "first events: %s" % types[:6])
    check(types[-4:] == STREAM_ORDER_TAIL + ["response.completed"], "last events: %s" % types[-6:])
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    check(len(deltas) >= 2 and set(types[4:-4]) == {"response.output_text.delta"}, "events: %s" % types)
    check([e.sequence_number for e in events] == list(range(len(events))), "sequence numbers: %s"
          % [e.sequence_number for e in events])
    text = "".join(e.delta for e in deltas)
    check(text == final.output_text and text == events[-4].text, "deltas %r, final %r" % (text, final.output_text))
    check(events[0].response.status == "in_progress" and events[0].response.output == [], "created: %r" % events[0])
    ids = {events[2].item.id, events[-2].item.id} | {e.item_id for e in deltas}
    check(len(ids) == 1 and final.output[0].id in ids, "item ids: %s" % ids)
    check_response(final, BASE)
    # the same as without streaming, and stored before the last event
    whole = c.client.responses.create(**kw)
    check(whole.output_text == text, "streamed %r, whole %r" % (text, whole.output_text))
    check(c.client.responses.retrieve(final.id).output_text == text, "the streamed response was not stored")
    # stream=True: the raw events, as the SDK types them
    raw = list(c.client.responses.create(stream=True, store=False, **kw))
    check([e.type for e in raw][:4] == STREAM_ORDER_HEAD and raw[-1].type == "response.completed", "raw events")
    check(raw[-1].response.output_text == text and raw[-1].response.store is False, "raw final %r" % raw[-1])
    refused(lambda: c.client.responses.retrieve(raw[-1].response.id), "a response with store false", 404)


def test_previous_response_id(c):
    first, brief = "My name is Ada and I live in Paris.", "Answer in one short sentence."
    r1 = c.client.responses.create(model=BASE, instructions=brief, input=first, max_output_tokens=60, temperature=0)
    r2 = c.client.responses.create(model=BASE, instructions=brief, previous_response_id=r1.id,
                                   input="What is my name?", max_output_tokens=60, temperature=0)
    check_response(r2, BASE)
    check(r2.previous_response_id == r1.id, "previous_response_id %r" % r2.previous_response_id)
    want = chat_text(c, [{"role": "system", "content": brief}, {"role": "user", "content": first},
                         {"role": "assistant", "content": r1.output_text},
                         {"role": "user", "content": "What is my name?"}], 60)
    check(r2.output_text == want, "continued %r, chat of the whole conversation %r" % (r2.output_text, want))
    # the same conversation sent whole, with the first response's output items passed back as input
    manual = c.client.responses.create(model=BASE, instructions=brief, input=[
        {"role": "user", "content": first}, *[o.model_dump(exclude_none=True) for o in r1.output],
        {"role": "user", "content": "What is my name?"}], max_output_tokens=60, temperature=0)
    check(manual.output_text == r2.output_text, "manual state %r, previous_response_id %r"
          % (manual.output_text, r2.output_text))
    check(r2.usage.input_tokens > r1.usage.input_tokens + r1.usage.output_tokens,
          "the previous conversation is not in the prompt: %r %r" % (r1.usage, r2.usage))
    check(r2.usage.input_tokens_details.cached_tokens >= r1.usage.input_tokens - 1,
          "the previous prompt was not taken from the cache: %r" % r2.usage)
    items = c.client.responses.input_items.list(r2.id, order="asc")
    check([i.role for i in items.data] == ["user", "assistant", "user"], "items: %r" % items.data)
    check(items.data[1].id == r1.output[0].id and items.data[1].content[0].text == r1.output_text, "%r" % items.data)
    check(items.first_id == items.data[0].id and items.last_id == items.data[2].id and not items.has_more, "ids")
    page = c.client.responses.input_items.list(r2.id, limit=1)  # newest first by default
    check(len(page.data) == 1 and page.data[0].id == items.data[2].id and page.has_more, "page %r" % page)
    page2 = c.client.responses.input_items.list(r2.id, limit=2, after=page.data[0].id)
    check([i.id for i in page2.data] == [items.data[1].id, items.data[0].id] and not page2.has_more, "page 2")
    # the instructions are not carried over; a third turn continues the second
    r3 = c.client.responses.create(model=BASE, previous_response_id=r2.id, input="And where do I live?",
                                   max_output_tokens=30, temperature=0)
    check(r3.instructions is None and r3.usage.input_tokens > r2.usage.input_tokens, "r3 %r" % r3.usage)
    refused(lambda: c.client.responses.create(model=BASE, previous_response_id="resp_nope", input="x"),
            "an unknown previous response", 404, "previous_response_id", "previous_response_not_found")


def test_structured_outputs(c):
    r = c.client.responses.create(model=BASE, instructions="You triage support tickets.", input=TICKET_TEXT,
                                  max_output_tokens=100, temperature=0,
                                  text={"format": {"type": "json_schema", "name": "ticket", "schema": TICKET,
                                                   "strict": True}})
    check_response(r, BASE)
    jsonschema.validate(json.loads(r.output_text), TICKET)
    check(r.text.format.type == "json_schema" and r.text.format.name == "ticket", "echo %r" % r.text)

    class Ticket(pydantic.BaseModel):
        label: Literal["billing", "bug", "feature request"]
        priority: int
        urgent: bool

    p = c.client.responses.parse(model=BASE, input=TICKET_TEXT, text_format=Ticket, max_output_tokens=100,
                                 temperature=0)
    check(isinstance(p.output_parsed, Ticket), "parse: %r" % p.output_text)
    with c.client.responses.stream(model=BASE, input=TICKET_TEXT, max_output_tokens=100, temperature=0, text={"format": {
            "type": "json_schema", "name": "ticket", "schema": TICKET, "strict": True}}) as stream:
        final = stream.get_final_response()
    jsonschema.validate(json.loads(final.output_text), TICKET)
    o = c.client.responses.create(model=BASE, input="Give the name and country of Paris as a JSON object.",
                                  max_output_tokens=200, temperature=0, text={"format": {"type": "json_object"}})
    check(o.status == "completed" and isinstance(json.loads(o.output_text), dict), "json_object: %r" % o.output_text)
    refused(lambda: c.client.responses.create(model=BASE, input="Describe Paris.", text={"format": {"type": "json_object"}}),
            "json_object without the word", 400, "input")
    bad = dict(TICKET, properties=dict(TICKET["properties"], label={"type": "string", "minLength": 3}))
    e = refused(lambda: c.client.responses.create(model=BASE, input="x", text={"format": {
        "type": "json_schema", "name": "ticket", "schema": bad, "strict": True}}), "minLength", 400, "text.format.schema")
    check("minLength" in e.body["message"] and "#/properties/label" in e.body["message"], e.body["message"])


def test_incomplete(c):
    kw = dict(model=BASE, input="Write a long story about a dragon who learns to cook.", max_output_tokens=16,
              temperature=0)
    r = c.client.responses.create(**kw)
    check_response(r, BASE, status="incomplete")
    check(r.incomplete_details.reason == "max_output_tokens" and r.usage.output_tokens == 16, "%r" % r)
    check(r.completed_at is None, "completed_at of an incomplete response: %r" % r.completed_at)
    events = list(c.client.responses.create(stream=True, **kw))
    check(events[-1].type == "response.incomplete" and events[-1].response.output_text == r.output_text,
          "stream: %s" % [e.type for e in events][-3:])
    check(c.client.responses.retrieve(r.id).status == "incomplete", "stored status")


def test_adapter_and_alias(c):
    a = c.client.responses.create(model="triage", input=TICKET_TEXT, max_output_tokens=30, temperature=0)
    check_response(a, "triage", status=a.status)
    base = c.client.responses.create(model=BASE, input=TICKET_TEXT, max_output_tokens=30, temperature=0)
    check(a.output_text != base.output_text, "the adapter changed nothing: %r" % a.output_text)
    al = c.client.responses.create(model=ALIAS, input="What is the capital of France?", max_output_tokens=40,
                                   temperature=0)
    check(al.model == BASE, "an alias answers with the model's id: %r" % al.model)
    refused(lambda: c.client.responses.create(model="no-such-model", input="x"), "unknown model", 404, "model",
            "model_not_found")


def test_other_project_gets_404(c):
    r = c.client.responses.create(model=BASE, input="Hello", max_output_tokens=16)
    refused(lambda: c.other.responses.retrieve(r.id), "another project's retrieve", 404)
    refused(lambda: c.other.responses.input_items.list(r.id), "another project's input items", 404)
    refused(lambda: c.other.responses.delete(r.id), "another project's delete", 404)
    refused(lambda: c.other.responses.create(model=BASE, previous_response_id=r.id, input="x"),
            "another project's previous response", 404, "previous_response_id")
    check(c.client.responses.retrieve(r.id).id == r.id, "the owner lost its response")


def test_refused_fields(c):
    def create(**kw):
        return lambda: c.client.responses.create(**dict(dict(model=BASE, input="x"), **kw))
    refused(create(tools=[{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}]),
            "tools", 400, "tools", "unsupported_parameter")
    refused(create(reasoning={"effort": "low"}), "reasoning", 400, "reasoning", "unsupported_parameter")
    refused(create(include=["message.output_text.logprobs"]), "include", 400, "include", "unsupported_parameter")
    refused(create(background=True), "background", 400, "background", "unsupported_parameter")
    refused(create(truncation="auto"), "truncation", 400, "truncation", "unsupported_parameter")
    refused(create(extra_body={"frobnicate": 1}), "an unknown field", 400, "frobnicate", "unknown_parameter")
    refused(create(max_output_tokens=8), "max_output_tokens below 16", 400, "max_output_tokens")
    refused(create(temperature=3), "temperature", 400, "temperature")
    refused(create(max_output_tokens=500), "over --max-tokens", 400, "max_output_tokens", "invalid_value")
    long_input = "Tell me about the sea. " * 1200  # more tokens than SmolLM2's context
    refused(create(input=long_input), "an input over the context", 400, "input", "context_length_exceeded")
    refused(lambda: list(c.client.responses.create(model=BASE, input=long_input, stream=True)),
            "a streamed input over the context", 400, "input", "context_length_exceeded")
    refused(lambda: c.client.responses.create(model=BASE, input=[{"role": "user", "content": [
        {"type": "input_image", "image_url": "https://example.com/a.png"}]}]), "an image", 400,
        "input[0].content[0].type", "unsupported_content")
    refused(lambda: c.client.responses.create(model=BASE, input=[{"type": "function_call_output", "call_id": "c",
                                                                   "output": "o"}]), "a tool output item", 400,
            "input[0].type")


def test_raw_http(c):
    """Bodies and query strings the SDK would not send: OpenAI-shaped errors naming what is wrong."""
    def expect(method, path, body, status, param, what, headers=None):
        h = dict(c.auth, **(headers or {}))
        st, hd, data = c.server.request(method, path, body, h)
        check(st == status, "%s: %s" % (what, describe(st, hd, data)))
        if status >= 400:
            e = check_error_shape(st, hd, data, what)
            check(e["param"] == param, "%s: param %r, want %r" % (what, e["param"], param))
        return data
    json_h = {"Content-Type": "application/json"}
    expect("POST", "/v1/responses", b"", 400, None, "an empty body", json_h)
    expect("POST", "/v1/responses", b"{\"model\": ", 400, None, "a cut body", json_h)
    expect("POST", "/v1/responses", b"[1]", 400, None, "an array body", json_h)
    expect("POST", "/v1/responses", {"model": BASE, "input": "x", "model_": 1}, 400, "model_", "a misspelt field")
    expect("GET", "/v1/responses", None, 405, None, "GET on the collection")
    r = c.client.responses.create(model=BASE, input="Hello", max_output_tokens=16, temperature=0)
    expect("GET", "/v1/responses/%s?stream=true" % r.id, None, 400, "stream", "retrieve as a stream")
    base = "/v1/responses/%s/input_items" % r.id
    expect("GET", base + "?order=sideways", None, 400, "order", "an unknown order")
    expect("GET", base + "?limit=0", None, 400, "limit", "limit 0")
    expect("GET", base + "?limit=101", None, 400, "limit", "limit over 100")
    expect("GET", base + "?after=msg_nope", None, 400, "after", "an unknown cursor")
    expect("GET", base + "?include=x", None, 400, "include", "include")
    data = json.loads(expect("DELETE", "/v1/responses/%s" % r.id, None, 200, None, "delete"))
    check(data == {"id": r.id, "object": "response", "deleted": True}, "delete body %r" % data)


def test_concurrent(c):
    """Responses batched together (half of them streamed) are the texts each gets alone, and all stored."""
    from concurrent.futures import ThreadPoolExecutor
    prompts = ["Name a fruit.", "Name a river.", "Count to five.", "Say hello in French.", "Name a planet.",
               "What is 2 + 2?"]

    def one(i, stream):
        kw = dict(model=BASE, input=prompts[i], max_output_tokens=24, temperature=0)
        if not stream:
            r = c.client.responses.create(**kw)
            return r.id, r.output_text
        with c.client.responses.stream(**kw) as s:
            events = list(s)
        r = events[-1].response
        return r.id, "".join(e.delta for e in events if e.type == "response.output_text.delta")

    alone = [one(i, False)[1] for i in range(len(prompts))]
    with ThreadPoolExecutor(len(prompts)) as pool:
        together = list(pool.map(lambda i: one(i, i % 2 == 1), range(len(prompts))))
    for i, (rid, text) in enumerate(together):
        check(text == alone[i], "prompt %d batched %r, alone %r" % (i, text, alone[i]))
        check(c.client.responses.retrieve(rid).output_text == text, "response %d not stored" % i)


def test_cancel_and_restart(c):
    r = c.client.responses.create(model=BASE, input="Hello", max_output_tokens=16, temperature=0)
    refused(lambda: c.client.responses.cancel(r.id), "cancel a response not in the background", 400)
    refused(lambda: c.client.responses.cancel("resp_nope"), "cancel an unknown response", 404)
    # stored responses survive a restart, and a conversation continues after it
    check(c.server.stop() == 0, "the server did not stop cleanly")
    c.server.start()
    check(c.client.responses.retrieve(r.id).model_dump() == r.model_dump(), "the response changed over a restart")
    r2 = c.client.responses.create(model=BASE, previous_response_id=r.id, input="How are you?",
                                   max_output_tokens=16, temperature=0)
    check(r2.usage.input_tokens > r.usage.input_tokens + r.usage.output_tokens, "usage %r" % r2.usage)
    items = c.client.responses.input_items.list(r2.id, order="asc")
    check([i.role for i in items.data] == ["user", "assistant", "user"], "items %r" % items.data)


if __name__ == "__main__":
    run_tests([test_create_is_the_chat_path, test_retrieve_input_items_delete, test_stream_events,
               test_previous_response_id, test_structured_outputs, test_incomplete, test_adapter_and_alias,
               test_other_project_gets_404, test_refused_fields, test_raw_http, test_concurrent,
               test_cancel_and_restart], setup=setup, teardown=teardown)
