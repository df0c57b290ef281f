"""test_vector_stores.py: /v1/vector_stores through the official openai SDK against the real server,
with models/all-MiniLM-L6-v2 (skipped without it): files uploaded with purpose assistants or
user_data, a store created with them (in_progress, then completed when polled), every query of a
set with a known nearest document finds it first (the cosine part), a query of a rare product code
finds its document (the BM25 part), a long document chunked statically (100 tokens, 50 of overlap)
answers with the chunk that holds the sentence asked for, files listed, retrieved, attached with
create_and_poll and detached (its chunks gone from the results), a file's content read back, an
uploaded file deleted leaving the store too, the store listed, kept across a
restart and deleted; another project's key finds none of it (404) and cannot attach its files;
file attributes (set with files.update) filter a search: every comparison (eq, ne, gt, gte, lt,
lte, in, nin) and compound (and, or) filter returns exactly the files whose attributes pass it, as
computed here independently; file batches: create_and_poll with file_ids and shared attributes,
with per-file `files`, list_files paged and filtered by status, a batch cancelled while its large
file is processed (cancelled, its file's chunks never searchable), a finished batch not
cancellable; expires_after on create and modify (expires_at = last_active_at + days, null when
removed), a search makes the store active, and a store whose last activity is older than its days
(its last_active_at moved back in the database while the server is stopped) is `expired` and
refuses searches and attachments; refusals: a fine-tune file, an unknown store, bad chunking, bad
filters (each naming the field), bad expires_after, both file_ids and files, max_num_results over
50, a missing query, an unknown field. Plain script: `python3 tests/e2e/test_vector_stores.py`.
"""
import io
import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openai  # noqa: E402
from serve_util import MODELS, Server, check, run_tests, stop_and_clean  # noqa: E402
from test_projects import new_key  # noqa: E402

DOCS = {
    "cards.md": "# Lost cards\nIf your card is lost or stolen, freeze it in the app right away and order a "
                "replacement; the new card arrives within five working days.",
    "fees.txt": "Withdrawing cash from an ATM abroad costs two percent of the amount, at least one euro. "
                "Exchange rates are applied at the time of the withdrawal.",
    "pets.txt": "Cats sleep up to sixteen hours a day, dogs need a walk twice a day, and parrots can learn "
                "to imitate words.",
    "weather.txt": "Tomorrow will be rainy with strong winds in the north and sunny spells in the south; "
                   "temperatures stay around twelve degrees.",
    "recipe.md": "## Pancakes\nMix flour, milk and eggs into a smooth batter, rest it for ten minutes, then fry "
                 "thin pancakes in a hot buttered pan.",
    "gadget.txt": "The ZX-4471 router ships with firmware 2.3; press its reset button for ten seconds to "
                  "restore the factory settings.",
}
QUERIES = {
    "my credit card was stolen, what should I do?": "cards.md",
    "how much do I pay to take money out of a machine in another country": "fees.txt",
    "how long do cats sleep": "pets.txt",
    "will it rain tomorrow": "weather.txt",
    "how do I make pancakes for breakfast": "recipe.md",
    "ZX-4471": "gadget.txt",
}
NEEDLE = "The harbour master keeps the spare keys of the lighthouse in a blue tin box."


class Ctx:
    pass


def upload(c, name, text, purpose="assistants"):
    return c.client.files.create(file=(name, io.BytesIO(text.encode())), purpose=purpose).id


def wait_completed(c, vs_id, timeout=120):
    deadline = time.time() + timeout
    while True:
        vs = c.client.vector_stores.retrieve(vs_id)
        if vs.status == "completed":
            return vs
        check(time.time() < deadline, "store %s still %s: %r" % (vs_id, vs.status, vs.file_counts))
        time.sleep(0.1)


def setup():
    c = Ctx()
    c.tmp = tempfile.mkdtemp(prefix="ftune-e2e-vs-")
    c.other_key, _ = new_key(os.path.join(c.tmp, "data"), "--project", "other")
    c.server = Server(os.path.join(c.tmp, "data"), api_key="k").start()
    c.client = c.server.client()
    c.ids = {name: upload(c, name, text, "user_data" if name == "pets.txt" else "assistants")
             for name, text in DOCS.items()}
    return c


def teardown(c):
    stop_and_clean(c)


def test_create_and_poll(c):
    vs = c.client.vector_stores.create(name="kb", file_ids=list(c.ids.values()), metadata={"team": "support"})
    check(vs.object == "vector_store" and vs.name == "kb" and vs.metadata == {"team": "support"}, "store %r" % vs)
    check(vs.file_counts.total == len(DOCS), "file counts %r" % vs.file_counts)
    vs = wait_completed(c, vs.id)
    check(vs.file_counts.completed == len(DOCS) and vs.usage_bytes > 0, "after processing %r" % vs)
    c.vs = vs.id


def test_nearest_document_first(c):
    for q, want in QUERIES.items():
        r = c.client.vector_stores.search(c.vs, query=q, max_num_results=3)
        got = [d.filename for d in r.data]
        check(got and got[0] == want, "query %r: %r, expected %s first" % (q, got, want))
        check(r.data[0].content[0].type == "text" and r.data[0].content[0].text == DOCS[want], "content %r" % r.data[0])
        check(all(r.data[i].score >= r.data[i + 1].score for i in range(len(r.data) - 1)), "not sorted: %r" % r.data)
        check(0 < r.data[0].score <= 1 and r.data[0].file_id == c.ids[want], "hit %r" % r.data[0])
    r = c.client.vector_stores.search(c.vs, query=["pancakes", "batter"], max_num_results=1)
    check(len(r.data) == 1 and r.data[0].filename == "recipe.md", "array query %r" % r.data)
    check(r.search_query == ["pancakes", "batter"], "search_query %r" % r.search_query)


def test_long_document_chunks(c):
    filler = " ".join("Paragraph %d talks about shipping schedules, invoices and warehouse audits." % i
                      for i in range(120))
    text = filler[: len(filler) // 2] + " " + NEEDLE + " " + filler[len(filler) // 2:]
    fid = upload(c, "handbook.md", text)
    f = c.client.vector_stores.files.create_and_poll(
        vector_store_id=c.vs, file_id=fid,
        chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}})
    check(f.status == "completed" and f.chunking_strategy.static.max_chunk_size_tokens == 100, "file %r" % f)
    r = c.client.vector_stores.search(c.vs, query="where are the spare keys of the lighthouse kept?", max_num_results=2)
    top = r.data[0]
    check(top.filename == "handbook.md" and NEEDLE in top.content[0].text, "top hit %r" % top)
    check(len(top.content[0].text) < len(text) / 4, "the hit is not a chunk: %d bytes" % len(top.content[0].text))
    c.handbook = fid


ATTRS = {
    "cards.md": {"topic": "banking", "year": 2021, "public": True},
    "fees.txt": {"topic": "banking", "year": 2023, "public": False},
    "pets.txt": {"topic": "animals", "year": 2019},
    "weather.txt": {"topic": "news", "year": 2024.5, "public": True},
    "recipe.md": {"topic": "food"},
    "gadget.txt": {"topic": "support", "year": 2023, "public": True},
}


def passes(f, attrs):
    """The filter's meaning, computed independently of the server (see vector_store_filter.h)."""
    t = f["type"]
    if t in ("and", "or"):
        results = [passes(g, attrs) for g in f["filters"]]
        return all(results) if t == "and" else any(results)
    negated = t in ("ne", "nin")
    if f["key"] not in attrs:
        return negated
    have, want = attrs[f["key"]], f["value"]
    same_type = lambda a, b: (isinstance(a, bool) == isinstance(b, bool)) and (
        isinstance(a, str) == isinstance(b, str))
    if t in ("eq", "ne"):
        return (same_type(have, want) and have == want) != negated
    if t in ("in", "nin"):
        return any(same_type(have, w) and have == w for w in want) != negated
    if not same_type(have, want) or isinstance(have, bool):
        return False
    return {"gt": have > want, "gte": have >= want, "lt": have < want, "lte": have <= want}[t]


FILTERS = [
    {"type": "eq", "key": "topic", "value": "banking"},
    {"type": "ne", "key": "topic", "value": "banking"},
    {"type": "gt", "key": "year", "value": 2021},
    {"type": "gte", "key": "year", "value": 2021},
    {"type": "lt", "key": "year", "value": 2023},
    {"type": "lte", "key": "year", "value": 2023.0},
    {"type": "in", "key": "topic", "value": ["food", "news", "nothing"]},
    {"type": "nin", "key": "topic", "value": ["food", "news"]},
    {"type": "eq", "key": "public", "value": True},
    {"type": "eq", "key": "year", "value": "2023"},  # a string never equals a number
    {"type": "and", "filters": [{"type": "eq", "key": "topic", "value": "banking"},
                                {"type": "gte", "key": "year", "value": 2022}]},
    {"type": "or", "filters": [{"type": "eq", "key": "topic", "value": "food"},
                               {"type": "and", "filters": [{"type": "eq", "key": "public", "value": True},
                                                           {"type": "lt", "key": "year", "value": 2022}]}]},
    {"type": "and", "filters": []},
    {"type": "or", "filters": []},
]


def test_attribute_filters(c):
    for name, attrs in ATTRS.items():
        f = c.client.vector_stores.files.update(file_id=c.ids[name], vector_store_id=c.vs, attributes=attrs)
        check(f.attributes == attrs, "update %r" % f)
        check(c.client.vector_stores.files.retrieve(file_id=c.ids[name], vector_store_id=c.vs).attributes == attrs,
              "attributes not kept for %s" % name)
    for flt in FILTERS:
        r = c.client.vector_stores.search(c.vs, query="money, animals, food, weather and routers", filters=flt,
                                          max_num_results=50)
        got = sorted({d.filename for d in r.data})
        want = sorted(n for n in DOCS if passes(flt, ATTRS[n]))
        check(got == want, "filter %r: %r, expected %r" % (flt, got, want))
        check(all(d.attributes == ATTRS[d.filename] for d in r.data), "hit attributes %r" % r.data)
    # the best hit within a filter is still the nearest one
    r = c.client.vector_stores.search(c.vs, query="my credit card was stolen", max_num_results=1,
                                      filters={"type": "eq", "key": "topic", "value": "banking"})
    check(r.data[0].filename == "cards.md", "filtered nearest %r" % r.data)
    f = c.client.vector_stores.files.update(file_id=c.ids["recipe.md"], vector_store_id=c.vs, attributes=None)
    check(f.attributes in ({}, None), "attributes cleared: %r" % f.attributes)
    ATTRS["recipe.md"] = {}


def test_file_batches(c):
    texts = {"b1.txt": "Solar panels turn sunlight into electricity for the house.",
             "b2.txt": "Wind turbines spin faster on the coast in winter.",
             "b3.txt": "Hydro power stations store water behind a dam."}
    ids = [upload(c, n, t) for n, t in texts.items()]
    b = c.client.vector_stores.file_batches.create_and_poll(
        vector_store_id=c.vs, file_ids=ids, attributes={"kind": "energy", "n": 1},
        chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 20}})
    check(b.object == "vector_store.files_batch" and b.id.startswith("vsfb_") and b.vector_store_id == c.vs,
          "batch %r" % b)
    check(b.status == "completed" and b.file_counts.completed == 3 and b.file_counts.total == 3, "batch %r" % b)
    check(c.client.vector_stores.file_batches.retrieve(b.id, vector_store_id=c.vs).status == "completed", "retrieve")
    files = list(c.client.vector_stores.file_batches.list_files(b.id, vector_store_id=c.vs, limit=2))
    check(sorted(f.id for f in files) == sorted(ids), "batch files %r" % files)
    check(all(f.attributes == {"kind": "energy", "n": 1} and f.chunking_strategy.static.max_chunk_size_tokens == 200
              for f in files), "batch file %r" % files)
    page = c.client.vector_stores.file_batches.list_files(b.id, vector_store_id=c.vs, limit=2, order="asc")
    check([f.id for f in page.data] == ids[:2] and page.has_more, "first page %r" % page)
    check(list(c.client.vector_stores.file_batches.list_files(b.id, vector_store_id=c.vs, filter="failed")) == [],
          "failed filter")
    check(len(list(c.client.vector_stores.file_batches.list_files(b.id, vector_store_id=c.vs, filter="completed")))
          == 3, "completed filter")
    r = c.client.vector_stores.search(c.vs, query="wind turbines", max_num_results=1,
                                      filters={"type": "eq", "key": "kind", "value": "energy"})
    check(r.data[0].filename == "b2.txt", "batch file search %r" % r.data)
    try:
        c.client.vector_stores.file_batches.cancel(b.id, vector_store_id=c.vs)
        raise AssertionError("a completed batch was cancelled")
    except openai.BadRequestError as e:
        check(e.body.get("param") == "batch_id", "cancel error %r" % e.body)
    # per-file attributes
    solo = upload(c, "b4.txt", "Geothermal heat comes from deep under the ground.")
    b = c.client.vector_stores.file_batches.create_and_poll(
        vector_store_id=c.vs, files=[{"file_id": solo, "attributes": {"kind": "heat"}}])
    check(b.status == "completed", "files batch %r" % b)
    check(c.client.vector_stores.files.retrieve(file_id=solo, vector_store_id=c.vs).attributes == {"kind": "heat"},
          "per-file attributes")
    # cancelled while its large file is embedded: the batch and its file cancelled, nothing kept
    big_text = " ".join("Line %d of a long report on quarterly freight volumes and harbour cranes." % i
                        for i in range(6000)) + " The unicorn mascot is called Bartholomew."
    big = upload(c, "big.txt", big_text)
    b = c.client.vector_stores.file_batches.create(vector_store_id=c.vs, file_ids=[big])
    check(b.status == "in_progress" and b.file_counts.in_progress == 1, "new batch %r" % b)
    b = c.client.vector_stores.file_batches.cancel(b.id, vector_store_id=c.vs)
    check(b.status == "cancelled" and b.file_counts.cancelled == 1 and b.file_counts.in_progress == 0, "cancel %r" % b)
    check([f.id for f in c.client.vector_stores.file_batches.list_files(b.id, vector_store_id=c.vs,
                                                                         filter="cancelled")] == [big], "cancelled list")
    time.sleep(1)
    r = c.client.vector_stores.search(c.vs, query="unicorn mascot Bartholomew", max_num_results=50)
    check("big.txt" not in [d.filename for d in r.data], "a cancelled file was searchable")
    vs = c.client.vector_stores.retrieve(c.vs)
    check(vs.file_counts.cancelled == 1 and vs.status == "completed", "store after cancel %r" % vs)
    for fid in ids + [solo, big]:
        c.client.vector_stores.files.delete(file_id=fid, vector_store_id=c.vs)


def test_modify_and_expiry(c):
    day = 86400
    vs = c.client.vector_stores.create(name="temp", expires_after={"anchor": "last_active_at", "days": 2})
    check(vs.expires_after.anchor == "last_active_at" and vs.expires_after.days == 2, "expires_after %r" % vs)
    check(vs.expires_at == vs.last_active_at + 2 * day and vs.status == "completed", "expires_at %r" % vs)
    vs = c.client.vector_stores.update(vs.id, name="renamed", metadata={"a": "b"},
                                       expires_after={"anchor": "last_active_at", "days": 5})
    check(vs.name == "renamed" and vs.metadata == {"a": "b"} and vs.expires_at == vs.last_active_at + 5 * day,
          "modified %r" % vs)
    vs = c.client.vector_stores.update(vs.id, expires_after=None)
    check(vs.expires_after is None and vs.expires_at is None and vs.name == "renamed", "no expiry %r" % vs)
    vs = c.client.vector_stores.update(vs.id, expires_after={"anchor": "last_active_at", "days": 1})
    before = vs.last_active_at
    time.sleep(1.1)
    c.client.vector_stores.search(vs.id, query="anything")
    vs = c.client.vector_stores.retrieve(vs.id)
    check(vs.last_active_at > before and vs.expires_at == vs.last_active_at + day, "a search is activity: %r" % vs)
    # its last activity two days back: expired
    c.server.stop()
    db = sqlite3.connect(os.path.join(c.tmp, "data", "ftune.db"))
    db.execute("UPDATE vector_stores SET last_active_at = last_active_at - ? WHERE id = ?", (2 * day, vs.id))
    db.commit()
    db.close()
    c.server.start()
    c.client = c.server.client()
    vs = c.client.vector_stores.retrieve(vs.id)
    check(vs.status == "expired" and vs.expires_at < time.time(), "expired %r" % vs)
    for fn, param in ((lambda: c.client.vector_stores.search(vs.id, query="x"), "vector_store_id"),
                      (lambda: c.client.vector_stores.files.create(vector_store_id=vs.id, file_id=c.ids["cards.md"]),
                       "vector_store_id"),
                      (lambda: c.client.vector_stores.update(vs.id, expires_after={"anchor": "last_active_at",
                                                                                   "days": 30}), "expires_after")):
        try:
            fn()
            raise AssertionError("an expired store was used")
        except openai.BadRequestError as e:
            check(e.body.get("code") == "vector_store_expired" and e.body.get("param") == param, "error %r" % e.body)
    check(c.client.vector_stores.update(vs.id, name="old").name == "old", "an expired store can be renamed")
    c.client.vector_stores.delete(vs.id)


def test_other_project_sees_nothing(c):
    other = c.server.client(api_key=c.other_key)
    check(c.vs not in [v.id for v in other.vector_stores.list()], "another project's store is listed")
    for fn in (lambda: other.vector_stores.retrieve(c.vs), lambda: other.vector_stores.search(c.vs, query="cards"),
               lambda: other.vector_stores.delete(c.vs),
               lambda: other.vector_stores.files.list(vector_store_id=c.vs)):
        try:
            fn()
            raise AssertionError("another project reached store %s" % c.vs)
        except openai.NotFoundError:
            pass
    mine = other.vector_stores.create(name="theirs")
    try:
        other.vector_stores.files.create(vector_store_id=mine.id, file_id=c.ids["cards.md"])
        raise AssertionError("another project's file was attached")
    except openai.NotFoundError as e:
        check(e.body.get("param") == "file_id", "error %r" % e.body)
    other.vector_stores.delete(mine.id)


def test_files_list_retrieve_detach(c):
    files = list(c.client.vector_stores.files.list(vector_store_id=c.vs, limit=100))
    check(len(files) == len(DOCS) + 1 and all(f.status == "completed" for f in files), "files %r" % files)
    f = c.client.vector_stores.files.retrieve(file_id=c.ids["pets.txt"], vector_store_id=c.vs)
    check(f.id == c.ids["pets.txt"] and f.vector_store_id == c.vs, "file %r" % f)
    d = c.client.vector_stores.files.delete(file_id=c.ids["pets.txt"], vector_store_id=c.vs)
    check(d.deleted, "detach %r" % d)
    r = c.client.vector_stores.search(c.vs, query="how long do cats sleep", max_num_results=10)
    check("pets.txt" not in [x.filename for x in r.data], "a detached file is still found")
    check(c.client.vector_stores.retrieve(c.vs).file_counts.total == len(DOCS), "counts after detach")
    parts = list(c.client.vector_stores.files.content(file_id=c.ids["weather.txt"], vector_store_id=c.vs))
    check([(p.type, p.text) for p in parts] == [("text", DOCS["weather.txt"])], "content %r" % parts)
    # deleting the uploaded file takes it out of the store too
    c.client.files.delete(c.ids["recipe.md"])
    try:
        c.client.vector_stores.files.retrieve(file_id=c.ids["recipe.md"], vector_store_id=c.vs)
        raise AssertionError("a deleted file is still in the store")
    except openai.NotFoundError:
        pass
    r = c.client.vector_stores.search(c.vs, query="how do I make pancakes", max_num_results=10)
    check("recipe.md" not in [x.filename for x in r.data], "a deleted file is still found")
    check(c.client.vector_stores.retrieve(c.vs).file_counts.total == len(DOCS) - 1, "counts after a file delete")


def test_errors(c):
    B, NF = openai.BadRequestError, openai.NotFoundError
    ft = upload(c, "train.jsonl", '{"messages": []}\n', "fine-tune")
    fresh = upload(c, "fresh.txt", "A file that a refused batch must not attach.")
    cases = [
        (B, "file_ids[0]", lambda: c.client.vector_stores.create(file_ids=[ft])),
        (NF, "file_ids[0]", lambda: c.client.vector_stores.create(file_ids=["file-nope"])),
        (NF, "vector_store_id", lambda: c.client.vector_stores.retrieve("vs_nope")),
        (NF, "vector_store_id", lambda: c.client.vector_stores.search("vs_nope", query="x")),
        (B, "chunking_strategy.static.chunk_overlap_tokens", lambda: c.client.vector_stores.files.create(
            vector_store_id=c.vs, file_id=c.ids["pets.txt"],
            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 60}})),
        (B, "file_id", lambda: c.client.vector_stores.files.create(vector_store_id=c.vs, file_id=c.ids["cards.md"])),
        (B, "filters.value", lambda: c.client.vector_stores.search(
            c.vs, query="x", filters={"type": "eq", "key": "a"})),
        (B, "filters.type", lambda: c.client.vector_stores.search(
            c.vs, query="x", filters={"type": "like", "key": "a", "value": "b"})),
        (B, "filters.filters[1].value", lambda: c.client.vector_stores.search(
            c.vs, query="x", filters={"type": "and", "filters": [{"type": "eq", "key": "a", "value": 1},
                                                                 {"type": "gt", "key": "a", "value": True}]})),
        (B, "filters.filters[0].value", lambda: c.client.vector_stores.search(
            c.vs, query="x", filters={"type": "or", "filters": [{"type": "in", "key": "a", "value": "b"}]})),
        (B, "filters.colour", lambda: c.client.vector_stores.search(
            c.vs, query="x", filters={"type": "eq", "key": "a", "value": "b", "colour": 1})),
        (B, "expires_after.days", lambda: c.client.vector_stores.create(
            expires_after={"anchor": "last_active_at", "days": 0})),
        (B, "expires_after.anchor", lambda: c.client.vector_stores.update(
            c.vs, expires_after={"anchor": "created_at", "days": 3})),
        (B, "attributes.tags", lambda: c.client.vector_stores.files.update(
            file_id=c.ids["cards.md"], vector_store_id=c.vs, attributes={"tags": ["a"]})),
        (B, "files", lambda: c.client.vector_stores.file_batches.create(
            vector_store_id=c.vs, file_ids=[c.ids["cards.md"]], files=[{"file_id": c.ids["cards.md"]}])),
        (B, "file_ids[0]", lambda: c.client.vector_stores.file_batches.create(vector_store_id=c.vs, file_ids=[ft])),
        (B, "file_ids[2]", lambda: c.client.vector_stores.file_batches.create(  # attached already: none is
            vector_store_id=c.vs, file_ids=[fresh, fresh, c.ids["cards.md"]])),
        (B, "files[1].chunking_strategy.static.chunk_overlap_tokens", lambda: c.client.vector_stores.file_batches.create(
            vector_store_id=c.vs, files=[{"file_id": fresh}, {"file_id": fresh, "chunking_strategy": {
                "type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 51}}}])),
        (NF, "batch_id", lambda: c.client.vector_stores.file_batches.retrieve("vsfb_nope", vector_store_id=c.vs)),
        (B, "filter", lambda: c.client.vector_stores.files.list(vector_store_id=c.vs, extra_query={"filter": "done"})),
        (B, "max_num_results", lambda: c.client.vector_stores.search(c.vs, query="x", max_num_results=51)),
        (B, "query", lambda: c.client.vector_stores.search(c.vs, query="")),
        (B, "colour", lambda: c.client.vector_stores.create(extra_body={"colour": "red"})),
    ]
    for cls, param, fn in cases:
        try:
            fn()
            raise AssertionError("no error for param %s" % param)
        except cls as e:
            check(e.body.get("param") == param, "param %r, expected %r: %r" % (e.body.get("param"), param, e.body))
    check(fresh not in [f.id for f in c.client.vector_stores.files.list(vector_store_id=c.vs, limit=100)],
          "a refused batch attached a file")


def test_restart_and_delete(c):
    c.server.stop()
    c.server.start()
    c.client = c.server.client()
    r = c.client.vector_stores.search(c.vs, query="will it rain tomorrow", max_num_results=1)
    check(r.data[0].filename == "weather.txt", "after a restart %r" % r.data)
    other = c.client.vector_stores.create(name="empty")
    ids = [v.id for v in c.client.vector_stores.list()]
    check(ids[:2] == [other.id, c.vs], "list %r" % ids)
    check(c.client.vector_stores.search(other.id, query="anything").data == [], "an empty store found something")
    d = c.client.vector_stores.delete(c.vs)
    check(d.deleted and d.id == c.vs, "delete %r" % d)
    try:
        c.client.vector_stores.retrieve(c.vs)
        raise AssertionError("a deleted store is still there")
    except openai.NotFoundError:
        pass


if __name__ == "__main__":
    if not os.path.isfile(os.path.join(MODELS, "all-MiniLM-L6-v2", "model.safetensors")):
        print("skip: models/all-MiniLM-L6-v2 not fetched (scripts/fetch_models.sh)")
        sys.exit(0)
    run_tests([test_create_and_poll, test_nearest_document_first, test_attribute_filters, test_long_document_chunks,
               test_other_project_sees_nothing, test_file_batches, test_files_list_retrieve_detach, test_errors,
               test_modify_and_expiry, test_restart_and_delete], setup, teardown)
