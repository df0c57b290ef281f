"""test_vector_stores.py: /v1/vector_stores through the official openai SDK against the real server,
with models/all-MiniLM-L6-v2 (skipped without it): files uploaded with purpose assistants or
user_data, a store created with them (in_progress, then completed when polled), every query of a
set with a known nearest document finds it first (the cosine part), a query of a rare product code
finds its document (the BM25 part), a long document chunked statically (100 tokens, 50 of overlap)
answers with the chunk that holds the sentence asked for, files listed, retrieved, attached with
create_and_poll and detached (its chunks gone from the results), the store listed, kept across a
restart and deleted; another project's key finds none of it (404) and cannot attach its files; refusals: a fine-tune file, an unknown store, bad chunking, filters,
max_num_results over 50, a missing query, an unknown field. Plain script:
`python3 tests/e2e/test_vector_stores.py`.
"""
import io
import os
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


def test_errors(c):
    B, NF = openai.BadRequestError, openai.NotFoundError
    ft = upload(c, "train.jsonl", '{"messages": []}\n', "fine-tune")
    cases = [
        (B, "file_ids[0]", lambda: c.client.vector_stores.create(file_ids=[ft])),
        (NF, "file_ids[0]", lambda: c.client.vector_stores.create(file_ids=["file-nope"])),
        (NF, "vector_store_id", lambda: c.client.vector_stores.retrieve("vs_nope")),
        (NF, "vector_store_id", lambda: c.client.vector_stores.search("vs_nope", query="x")),
        (B, "chunking_strategy.static.chunk_overlap_tokens", lambda: c.client.vector_stores.files.create(
            vector_store_id=c.vs, file_id=c.ids["pets.txt"],
            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 60}})),
        (B, "file_id", lambda: c.client.vector_stores.files.create(vector_store_id=c.vs, file_id=c.ids["cards.md"])),
        (B, "filters", lambda: c.client.vector_stores.search(
            c.vs, query="x", filters={"type": "eq", "key": "a", "value": "b"})),
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
    run_tests([test_create_and_poll, test_nearest_document_first, test_long_document_chunks,
               test_other_project_sees_nothing, test_files_list_retrieve_detach, test_errors, test_restart_and_delete], setup, teardown)
