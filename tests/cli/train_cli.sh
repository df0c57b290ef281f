#!/usr/bin/env bash
# ftune train end to end on stories260K: a run writes the PEFT adapter, checkpoints and
# results.csv; chat uses the adapter; an invalid file is refused with its line; --method dpo trains
# on preference pairs; Ctrl-C stops at a step boundary with a checkpoint that --resume finishes.
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
M=models/stories260K.gguf
for i in $(seq 1 12); do
    printf '{"messages": [{"role": "user", "content": "Tell me about toy %d."}, {"role": "assistant", "content": "Toy %d is a red ball."}]}\n' $i $i
done >"$tmp/train.jsonl"
head -3 "$tmp/train.jsonl" >"$tmp/valid.jsonl"

out=$(./build/ftune train --model $M --train "$tmp/train.jsonl" --validation "$tmp/valid.jsonl" --epochs 2 \
      --batch-size 4 --rank 4 --seed 3 --out "$tmp/run" 2>&1) || fail "train: $out"
grep -q "training: 2 epochs, batch size 4" <<<"$out" || fail "no summary line: $out"
for f in adapter_config.json adapter_model.safetensors results.csv checkpoint-3/optimizer.safetensors \
         checkpoint-6/adapter_model.safetensors; do
    [ -f "$tmp/run/$f" ] || fail "missing $f"
done
[ "$(wc -l <"$tmp/run/results.csv")" -eq 7 ] || fail "results.csv should have a header and 6 steps"
head -1 "$tmp/run/results.csv" | grep -qx "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy" ||
    fail "results.csv header"
./build/ftune chat --model $M --adapter "$tmp/run" --max-tokens 8 "Tell me about toy 3." >/dev/null || fail "chat --adapter"

printf '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistnat", "content": "x"}]}\n' >>"$tmp/train.jsonl"
out=$(./build/ftune train --model $M --train "$tmp/train.jsonl" --out "$tmp/bad" 2>&1)
[ $? -eq 2 ] || fail "invalid file: exit status should be 2 ($out)"
grep -q "line 13: messages\[1\].role" <<<"$out" || fail "invalid file message: $out"
sed -i '$d' "$tmp/train.jsonl"

# --method dpo: preference pairs (the right toy preferred); the first step starts at log 2 (a new
# adapter is the base model, the reference); beta out of range, beta without dpo, and a chat file
# for dpo are refused with status 2
for i in $(seq 1 10); do
    printf '{"input": {"messages": [{"role": "user", "content": "Tell me about toy %d."}]}, "preferred_output": [{"role": "assistant", "content": "Toy %d is a red ball."}], "non_preferred_output": [{"role": "assistant", "content": "Toy %d is a blue car."}]}\n' $i $i $((i + 1))
done >"$tmp/dpo.jsonl"
out=$(./build/ftune train --model $M --train "$tmp/dpo.jsonl" --method dpo --beta 0.5 --epochs 1 --batch-size 5 \
      --rank 4 --seed 3 --out "$tmp/dpo" 2>&1) || fail "dpo train: $out"
grep -q "method: dpo, beta 0.5, reference: the base model" <<<"$out" || fail "no dpo line: $out"
# the reference is the base model: zero rewards, up to the last bits of the products (test_trainer.c)
grep -Eq "1/2 .*loss 0.6931 .*rewards [+-]0.000/[+-]0.000 margin -?0.000" <<<"$out" || fail "first DPO step not at log 2: $out"
[ -f "$tmp/dpo/adapter_model.safetensors" ] && [ -f "$tmp/dpo/checkpoint-2/optimizer.safetensors" ] ||
    fail "dpo run wrote no adapter"
for bad in "--beta 0 --method dpo" "--beta 3 --method dpo" "--beta 0.1" "--method rl"; do
    out=$(./build/ftune train --model $M --train "$tmp/dpo.jsonl" $bad --out "$tmp/dpo-bad" 2>&1)
    [ $? -eq 2 ] || fail "$bad: exit status should be 2 ($out)"
done
out=$(./build/ftune train --model $M --train "$tmp/train.jsonl" --method dpo --out "$tmp/dpo-bad" 2>&1)
[ $? -eq 2 ] && grep -q "line 1" <<<"$out" || fail "a chat file for dpo: $out"

# Ctrl-C: a long run (60 examples x 50 epochs at batch 1) interrupted by SIGINT once its first
# epoch's checkpoint exists stops at a step boundary with a checkpoint that --resume completes
for i in $(seq 1 60); do
    printf '{"messages": [{"role": "user", "content": "Tell me about toy %d."}, {"role": "assistant", "content": "Toy %d is a red ball."}]}\n' $i $i
done >"$tmp/long.jsonl"
./build/ftune train --model $M --train "$tmp/long.jsonl" --epochs 50 --batch-size 1 --rank 2 --seed 3 \
    --out "$tmp/long" >"$tmp/long.log" 2>&1 &
pid=$!
for i in $(seq 1 600); do [ -d "$tmp/long/checkpoint-60" ] && break; sleep 0.05; done
kill -INT $pid
wait $pid || fail "the interrupted run should exit 0"
grep -q "stopped at step" "$tmp/long.log" || fail "SIGINT did not stop cleanly: $(tail -3 "$tmp/long.log")"
ckpt=$(ls -d "$tmp"/long/checkpoint-* | grep -v '\.tmp$' | sort -t- -k2 -n | tail -1)
[ -f "$ckpt/trainer_state.json" ] || fail "no checkpoint after SIGINT"
./build/ftune train --model $M --train "$tmp/long.jsonl" --epochs 50 --batch-size 1 --rank 2 --seed 3 \
    --out "$tmp/long" --resume "$ckpt" >"$tmp/resume.log" 2>&1 || fail "resume: $(tail -3 "$tmp/resume.log")"
grep -q "done: adapter" "$tmp/resume.log" || fail "resume did not finish"
[ "$(wc -l <"$tmp/long/results.csv")" -eq 3001 ] || fail "resumed results.csv should hold all 3000 steps once"
echo ok
