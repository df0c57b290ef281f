# embed_setup.sh: what bench/embeddings.sh and bench/embed_ab.sh share, sourced from the repository
# root: the model (models/all-MiniLM-L6-v2, fetched if missing), build/bench_embed (made), and two
# temporary files removed at exit: $texts, the user messages of
# ../shared/data/support-triage/train.jsonl one per line (newlines made spaces), and $out, for the
# JSON lines the benchmarks print.
model=models/all-MiniLM-L6-v2
[ -f "$model/model.safetensors" ] || bash scripts/fetch_models.sh
make --no-print-directory build/bench_embed >/dev/null
data=${FTUNE_SHARED:-../shared}/data/support-triage/train.jsonl
texts=$(mktemp)
out=$(mktemp)
trap 'rm -f "$texts" "$out"' EXIT
python3 - "$data" "$texts" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        user = [m["content"] for m in json.loads(line)["messages"] if m["role"] == "user"]
        if user:
            out.write(user[0].replace("\n", " ") + "\n")
PY
