#!/usr/bin/env bash
# Data-parallel `ftune train` over MPI (src/train/data_parallel.c): the same run on 1 process, on
# `mpirun -n 2` and on `mpirun -n 3` (uneven shares; in the last, short batch one rank has no
# example), with LoRA dropout (masks seeded by the example, not the rank), and DPO on 2 ranks, gives the same per-step losses in results.csv and the same final adapter, within the
# bounds below; every rank holds the same adapter after every step (FTUNE_MPI_CHECK=1 compares
# checksums); rank 0 alone prints the outcome; a 2-rank run resumed from a checkpoint ends with the
# same bytes as the uninterrupted one. Then the same 2-rank run with the ranks in two
# network namespaces joined by a veth pair (TCP transport only), when this machine lets root make
# them. Skipped when mpirun is missing; an ftune built without MPI must refuse an mpirun launch.
#
# The bounds. Both runs start from the same adapter and see the same batches; what differs is the
# order of the fp32 sums that make each gradient element (one process sums the batch's rows in its
# packed passes; N ranks each sum their share and MPI_Allreduce adds the N partial sums). For n
# terms, reordering moves a sum by at most about n * 2^-24 of the sum of the terms' magnitudes:
# with n <= 1024 rows, 6e-5 of it. AdamW's step on a parameter is lr * m/(sqrt(v) + eps), at most
# about lr, and scale-free in the gradient, so a relative change d of an element's gradient moves
# its step by about 2 d lr. Allowing elements whose terms cancel down to 1/80 of their magnitudes
# (d <= 80 * 6e-5 = 5e-3), a parameter moves by at most 1e-2 * lr per step: after K steps the
# adapters differ by at most K * lr_peak * 1e-2. A rank missing the others' gradients, or a
# gradient divided by the rank's own token count, moves parameters by O(lr) per step (100 times
# more). The losses: step 1 runs on identical parameters (only the double-precision sum of the
# token losses is reordered: < 1e-12); later steps on parameters within the bound above, which
# moves a loss of ~3 by far less than one unit of results.csv's 5 decimals; the test allows 1e-4
# (10 units). With no allreduce the step-2 loss moves by ~2e-3. The runs use --precision fp32:
# bf16 products (the default on CPUs with AMX) round activations to 8 bits, where a last-bit
# difference in a LoRA term flips a rounding and moves a loss by ~1e-4 from step 2 on.
set -uo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
M=models/stories260K.gguf
command -v mpirun >/dev/null || { echo "skip: mpirun is not installed (Debian: openmpi-bin)"; exit 0; }
[ -f "$M" ] || { echo "skip: $M is missing (scripts/fetch_models.sh)"; exit 0; }
# (single_copy none: containers that forbid ptrace break shared memory's CMA copies)
MPIRUN=(mpirun --oversubscribe --allow-run-as-root --mca btl_vader_single_copy_mechanism none)

for i in $(seq 1 14); do
    printf '{"messages": [{"role": "user", "content": "Tell me about toy %d."}, {"role": "assistant", "content": "Toy %d is a red ball number %d."}]}\n' $i $i $((i * 7))
done >"$tmp/train.jsonl"
head -5 "$tmp/train.jsonl" >"$tmp/valid.jsonl"
ARGS=(--model $M --train "$tmp/train.jsonl" --validation "$tmp/valid.jsonl" --epochs 2 --batch-size 4 --rank 4
      --dropout 0.1 --seed 3 --threads 1 --precision fp32)

if ! ldd ./build/ftune | grep libmpi >/dev/null; then  # (not -q: pipefail would see ldd's SIGPIPE)
    out=$("${MPIRUN[@]}" -n 2 ./build/ftune train "${ARGS[@]}" --out "$tmp/nompi" 2>&1)
    [ $? -ne 0 ] && grep -q "built without MPI" <<<"$out" || fail "a build without MPI under mpirun -n 2: $out"
    echo "skip: ftune was built without MPI (install libopenmpi-dev and rebuild); its refusal checked"
    exit 0
fi

out=$(./build/ftune train "${ARGS[@]}" --out "$tmp/one" 2>&1) || fail "1 process: $out"
grep -q "data parallel" <<<"$out" && fail "a plain run should not mention ranks: $out"
lr=$(sed -n 's/.*learning rate \([0-9.e-]*\).*/\1/p' <<<"$out")
steps=$(sed -n 's/.* \([0-9]*\) steps$/\1/p' <<<"$out")
[ -n "$lr" ] && [ "$steps" = 8 ] || fail "no plan line: $out"

# results.csv rows (losses within 1e-4, accuracies within one token of ~100) and the adapters
compare() { # dir_a dir_b
    python3 - "$1" "$2" "$steps" "$lr" <<'EOF' || fail "$2 differs from $1"
import array, json, struct, sys
a, b, steps, lr = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
rows = [open(d + "/results.csv").read().split("\n")[1:-1] for d in (a, b)]
assert len(rows[0]) == len(rows[1]) == steps, (len(rows[0]), len(rows[1]))
for ra, rb in zip(*rows):
    fa, fb = ra.split(","), rb.split(",")
    assert fa[0] == fb[0] and (fa[3] == "") == (fb[3] == ""), (ra, rb)
    for k, tol in ((1, 1e-4), (2, 0.02), (3, 1e-4), (4, 0.02)):
        if fa[k]:
            assert abs(float(fa[k]) - float(fb[k])) <= tol, f"step {fa[0]} column {k}: {ra} vs {rb}"
def tensors(d):
    raw = open(d + "/adapter_model.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    out = {}
    for name, t in json.loads(raw[8:8 + n]).items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t["dtype"]
        s, e = t["data_offsets"]
        out[name] = array.array("f", raw[8 + n + s:8 + n + e])
    return out
ta, tb = tensors(a), tensors(b)
assert ta.keys() == tb.keys() and ta, "tensor names"
worst = max(abs(x - y) for k in ta for x, y in zip(ta[k], tb[k]))
bound = steps * lr * 1e-2
assert worst <= bound, f"adapters differ by {worst:g} > {bound:g}"
print(f"{b}: adapter within {worst:.2g} (bound {bound:.2g})")
EOF
}

# Two "hosts": network namespaces A and B joined by a veth pair, 10.199.0.1 and .2. mpirun runs in
# A; Open MPI's ssh launcher is replaced by an agent that starts B's daemon with `ip netns exec`;
# the ranks talk over TCP on the veth alone (no shared memory, no loopback). Returns non-zero when
# the namespaces cannot be made here (after saying why), and fails the test if the run fails.
netns_run() {
    A=ftuneA$$ B=ftuneB$$ # global: the EXIT trap removes them
    local va=fva$$ vb=fvb$$
    [ "$(id -u)" = 0 ] || { echo "skip across namespaces: needs root"; return 1; }
    command -v ip >/dev/null || { echo "skip across namespaces: no ip (iproute2)"; return 1; }
    ip netns add $A 2>/dev/null || { echo "skip across namespaces: ip netns add is not permitted here"; return 1; }
    trap 'ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; rm -rf "$tmp"' EXIT
    ip netns add $B && ip link add $va type veth peer name $vb && ip link set $va netns $A && ip link set $vb netns $B &&
        ip -n $A addr add 10.199.0.1/24 dev $va && ip -n $B addr add 10.199.0.2/24 dev $vb &&
        ip -n $A link set $va up && ip -n $B link set $vb up && ip -n $A link set lo up && ip -n $B link set lo up ||
        { echo "skip across namespaces: cannot make the veth pair"; return 1; }
    printf '#!/bin/sh\n# rsh agent: HOST COMMAND...\nh=$1; shift\necho "$h" >>%s/agent.log\n[ "$h" = 10.199.0.2 ] && exec ip netns exec %s sh -c "$*"\nexec sh -c "$*"\n' \
        "$tmp" $B >"$tmp/agent"
    chmod +x "$tmp/agent"
    local out
    out=$(FTUNE_MPI_CHECK=1 ip netns exec $A mpirun --allow-run-as-root -n 2 --host 10.199.0.1:1,10.199.0.2:1 \
          --mca plm_rsh_agent "$tmp/agent" --mca btl tcp,self --mca btl_tcp_if_include 10.199.0.0/24 \
          --mca oob_tcp_if_include 10.199.0.0/24 -x FTUNE_MPI_CHECK \
          ./build/ftune train "${ARGS[@]}" --out "$tmp/netns" 2>&1) || fail "mpirun across namespaces: $out"
    grep -q "data parallel: 2 ranks" <<<"$out" || fail "across namespaces, no allreduce summary: $out"
    grep -qx 10.199.0.2 "$tmp/agent.log" || fail "no daemon was started in namespace B"
}

for n in 2 3; do
    out=$(FTUNE_MPI_CHECK=1 "${MPIRUN[@]}" -n $n -x FTUNE_MPI_CHECK ./build/ftune train "${ARGS[@]}" \
          --out "$tmp/ranks$n" 2>&1) || fail "mpirun -n $n: $out"
    grep -q "data parallel: $n ranks, 0.09 MB of gradients per step" <<<"$out" || fail "no allreduce summary: $out"
    [ "$(grep -c '^done: adapter' <<<"$out")" = 1 ] || fail "rank 0 alone should report: $out"
    [ -f "$tmp/ranks$n/checkpoint-8/optimizer.safetensors" ] || fail "no checkpoint from mpirun -n $n"
    compare "$tmp/one" "$tmp/ranks$n"
done

# resuming the 2-rank run from its first epoch's checkpoint on 2 ranks ends with the same bytes
cp -r "$tmp/ranks2" "$tmp/resumed" && rm -r "$tmp/resumed/checkpoint-8" "$tmp/resumed/adapter_model.safetensors"
out=$("${MPIRUN[@]}" -n 2 ./build/ftune train "${ARGS[@]}" --out "$tmp/resumed" --resume "$tmp/resumed/checkpoint-4" 2>&1) ||
    fail "resume on 2 ranks: $out"
cmp -s "$tmp/ranks2/adapter_model.safetensors" "$tmp/resumed/adapter_model.safetensors" &&
    cmp -s "$tmp/ranks2/results.csv" "$tmp/resumed/results.csv" || fail "the resumed 2-rank run differs"


netns_run && compare "$tmp/one" "$tmp/netns"

# DPO: the same comparison on preference pairs (the loss is a mean over the batch's pairs)
for i in $(seq 1 12); do
    printf '{"input": {"messages": [{"role": "user", "content": "Toy %d?"}]}, "preferred_output": [{"role": "assistant", "content": "Red %d."}], "non_preferred_output": [{"role": "assistant", "content": "Blue %d."}]}\n' $i $i $i
done >"$tmp/dpo.jsonl"
head -4 "$tmp/dpo.jsonl" >"$tmp/dpo_valid.jsonl"
DPO=(--model $M --train "$tmp/dpo.jsonl" --validation "$tmp/dpo_valid.jsonl" --method dpo --beta 0.5 --epochs 2
     --batch-size 5 --rank 4 --dropout 0.1 --seed 3 --threads 1 --precision fp32)
out=$(./build/ftune train "${DPO[@]}" --out "$tmp/dpo1" 2>&1) || fail "dpo, 1 process: $out"
out=$(FTUNE_MPI_CHECK=1 "${MPIRUN[@]}" -n 2 -x FTUNE_MPI_CHECK ./build/ftune train "${DPO[@]}" --out "$tmp/dpo2" 2>&1) ||
    fail "dpo, mpirun -n 2: $out"
lr=$(sed -n 's/.*learning rate \([0-9.e-]*\).*/\1/p' <<<"$out")
steps=$(sed -n 's/.* \([0-9]*\) steps$/\1/p' <<<"$out")
[ -n "$lr" ] && [ "$steps" = 6 ] || fail "dpo: no plan line: $out"
compare "$tmp/dpo1" "$tmp/dpo2"
echo ok
