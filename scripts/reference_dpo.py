#!/usr/bin/python3
"""reference_dpo.py: independent PyTorch reference for DPO training of a LoRA adapter (loss, rewards,
LoRA gradients, AdamW steps).

Usage (from the repository root, with Debian's torch, as scripts/reference_train.py):
    /usr/bin/python3 scripts/reference_dpo.py [--only stories260K|tiny_qwen2]

For each model writes tests/golden/dpo/<name>/ (see tests/golden/dpo/README.md):
  pairs.json                 the pairs (ids and per-token masks of the preferred and the rejected
                             sequence), beta, AdamW settings, and for each case below the loss,
                             per-pair log-probabilities and rewards, step losses and gradient norms
  grads_base_ref.safetensors      fp32 gradient of the case "base_ref" loss w.r.t. every LoRA tensor
  grads_base_ref_fp64.safetensors the same in float64
  grads_adapter_ref.safetensors   (+ _fp64) the same for the case "adapter_ref"
  adapter_step5/adapter_model.safetensors  the adapter after 5 AdamW steps of case "base_ref" (fp32)

The policy is the model with the LoRA adapter of tests/golden/train/<name>/adapter_init (the same
seeded weights reference_train.py writes, rebuilt here with its init_adapter), applied as
reference_train.py applies it. Two reference models:
  base_ref:    the base model, LoRA term off (a DPO job on a base model);
  adapter_ref: the model with adapter_init frozen (a DPO job continuing an ft: model); at the start
               the policy equals it, so the loss is log 2 and the gradient beta/2 (grad logp_l - grad logp_w).
The loss of a batch of pairs is the mean over pairs of
    -log sigmoid(beta * ((logp(y_w) - logp_ref(y_w)) - (logp(y_l) - logp_ref(y_l))))
where logp(y) is the sum of log softmax(logits[t])[ids[t+1]] over the positions t whose next token
is trained (token_mask[t+1] = 1): the reply's tokens, as SFT trains them. Rewards: beta * (logp -
logp_ref) of each reply.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_logits as R  # noqa: E402
import reference_train as T  # noqa: E402

GOLDEN_DIR = os.path.join(R.REPO, "tests", "golden", "dpo")
BETA = 0.1
N_STEPS = 5

# stories260K: (prompt, preferred continuation, rejected continuation); BOS, then the text.
STORY_PAIRS = [
    ("Lily and Ben went to the park.", " They played on the swings.", " The dog ate a big red car."),
    ("Tom had a red ball.", " He liked to throw it high.", " It was sad and blue."),
    ("The cat sat on the mat.", " It was warm and happy.", " Then the sun fell into the sea and the fish laughed."),
]

# tiny_qwen2: (user message, preferred reply, rejected reply), ChatML without the final "\n".
QWEN_PAIRS = [
    ("Hi", "Hello!", "No."),
    ("Add 2 and 3.", "2 + 3 = 5.", "It is 7, I think."),
    ("Is the sky blue?", "Yes.", "No, the sky is green today."),
]


def stories_pairs(m):
    pairs = []
    for prompt, good, bad in STORY_PAIRS:
        p = R.spm_encode(prompt, m.vocab, add_bos=True)
        seq = []
        for reply in (good, bad):
            ids = R.spm_encode(prompt + reply, m.vocab, add_bos=True)
            assert ids[:len(p)] == p, (prompt, reply)
            seq.append((ids, [0] * len(p) + [1] * (len(ids) - len(p))))
        pairs.append(seq)
    return pairs


def qwen_pairs(dirpath):
    tok = os.path.join(dirpath, "tokenizer.json")
    pairs = []
    for user, good, bad in QWEN_PAIRS:
        seq = []
        for reply in (good, bad):
            pieces = [("<|im_start|>user\n%s<|im_end|>\n" % user, 0), ("<|im_start|>assistant\n", 0),
                      (reply + "<|im_end|>", 1)]
            ids, mk = [], []
            for text, trained in pieces:
                p = R.tok_child(tokenizer=tok, text=text)["ids"]
                ids += p
                mk += [trained] * len(p)
            assert "".join(t for t, _ in pieces) + "\n" == R.render_chatml(
                [{"role": "user", "content": user}, {"role": "assistant", "content": reply}], False)
            seq.append((ids, mk))
        pairs.append(seq)
    return pairs


def seq_logp(m, ids, tmask, lora, dtype):
    """Sum of log p(ids[j] | ids[<j]) over tokens j with tmask[j] = 1 (j >= 1)."""
    logits = R.forward(m, ids, dtype, lora)
    logp = torch.log_softmax(logits[:-1], dim=-1)
    tgt = torch.tensor(ids[1:], dtype=torch.long)
    lp = logp.gather(1, tgt[:, None])[:, 0]
    return lp[torch.tensor(tmask[1:], dtype=torch.bool)].sum()


def ref_logps(m, pairs, lora, dtype):
    with torch.no_grad():
        return [[float(seq_logp(m, ids, mk, lora, dtype)) for ids, mk in pair] for pair in pairs]


def dpo_loss(m, pairs, lora, ref, dtype):
    """Mean DPO loss over pairs, and per-pair (logp_w, logp_l, reward_w, reward_l) as floats."""
    total, info = None, []
    for (w, l), (rw, rl) in zip(pairs, ref):
        lw = seq_logp(m, w[0], w[1], lora, dtype)
        ll = seq_logp(m, l[0], l[1], lora, dtype)
        z = BETA * ((lw - rw) - (ll - rl))
        loss = -torch.nn.functional.logsigmoid(z)
        total = loss if total is None else total + loss
        info.append({"logp_preferred": float(lw), "logp_rejected": float(ll), "ref_logp_preferred": rw,
                     "ref_logp_rejected": rl, "reward_preferred": float(BETA * (lw - rw)),
                     "reward_rejected": float(BETA * (ll - rl)), "loss": float(loss)})
    return total / len(pairs), info


def run_case(m, pairs, ad, dtype, gguf_order, ref_adapter, steps):
    """ref_adapter: None (base model) or the adapter dict (frozen copy)."""
    ref_lora = None if ref_adapter is None else T.make_lora(m, T.leaf_params(ref_adapter, dtype), gguf_order)
    ref = ref_logps(m, pairs, ref_lora, dtype)
    params = T.leaf_params(ad, dtype)
    plist = T.flat(params)
    opt = torch.optim.AdamW(plist, lr=T.ADAMW["lr"], betas=tuple(T.ADAMW["betas"]), eps=T.ADAMW["eps"],
                            weight_decay=T.ADAMW["weight_decay"])
    lora = T.make_lora(m, params, gguf_order)
    losses, norms, grads0, info0 = [], [], None, None
    for step in range(steps):
        opt.zero_grad()
        loss, info = dpo_loss(m, pairs, lora, ref, dtype)
        loss.backward()
        if step == 0:
            grads0 = {k: (A.grad.detach().clone(), B.grad.detach().clone()) for k, (A, B) in params.items()}
            info0 = info
        losses.append(float(loss))
        norms.append(float(torch.nn.utils.clip_grad_norm_(plist, T.ADAMW["clip_grad_norm"])))
        opt.step()
    if steps > 1:
        with torch.no_grad():
            losses.append(float(dpo_loss(m, pairs, lora, ref, dtype)[0]))
    final = {k: (A.detach().clone(), B.detach().clone()) for k, (A, B) in params.items()}
    return {"losses": losses, "norms": norms, "grads": grads0, "final": final, "pairs": info0, "ref": ref}


def write_all(name, model_rel, m, gguf_order, pairs, seed):
    torch.set_num_threads(1)
    out = os.path.join(GOLDEN_DIR, name)
    ad = T.init_adapter(m, seed)
    from safetensors.numpy import load_file
    committed = load_file(os.path.join(T.GOLDEN_DIR, name, "adapter_init", "adapter_model.safetensors"))
    mine = T.adapter_tensors(ad)
    assert committed.keys() == mine.keys() and all((committed[k] == mine[k]).all() for k in mine), \
        "init_adapter no longer reproduces tests/golden/train/%s/adapter_init" % name
    doc = {
        "model": model_rel,
        "adapter_init": "tests/golden/train/%s/adapter_init" % name,
        "beta": BETA,
        "pairs": [[{"ids": ids, "token_mask": mk} for ids, mk in pair] for pair in pairs],
        "pair_convention": "pairs[i] = [preferred, rejected]; token_mask[j] = 1: token j is a trained reply token "
                           "(its log-probability, predicted from position j-1, counts in logp).",
        "loss_definition": "mean over pairs of -log sigmoid(beta * ((logp_w - ref_logp_w) - (logp_l - ref_logp_l))); "
                           "logp: sum of log-probabilities of the trained tokens, each sequence alone, natural log.",
        "adamw": dict(T.ADAMW, steps=N_STEPS),
        "cases": {},
    }
    for case, ref_ad, steps in (("base_ref", None, N_STEPS), ("adapter_ref", ad, 1)):
        r32 = run_case(m, pairs, ad, torch.float32, gguf_order, ref_ad, steps)
        r64 = run_case(m, pairs, ad, torch.float64, gguf_order, ref_ad, steps)
        T.save_st({k: v.float() for k, v in T.to_state(r32["grads"]).items()},
                  os.path.join(out, "grads_%s.safetensors" % case))
        T.save_st({k: v.double() for k, v in T.to_state(r64["grads"]).items()},
                  os.path.join(out, "grads_%s_fp64.safetensors" % case))
        c = {
            "reference": "the base model (LoRA off)" if ref_ad is None else "adapter_init, frozen",
            "loss": r64["losses"][0],
            "loss_fp32": r32["losses"][0],
            "pairs_fp64": r64["pairs"],
            "grad_norm_initial": r64["norms"][0],
            "fp32_vs_fp64": {"loss_abs": abs(r32["losses"][0] - r64["losses"][0]),
                             "grads": T.gap_stats(r32["grads"], r64["grads"])},
        }
        if steps > 1:
            c["step_losses"] = r32["losses"]
            c["grad_norm_before_clip"] = r32["norms"]
            c["step_losses_fp64"] = r64["losses"]
            c["fp32_vs_fp64"]["adapter_step5"] = T.gap_stats(r32["final"], r64["final"])
            T.save_st({k: v.float() for k, v in T.to_state(r32["final"]).items()},
                      os.path.join(out, "adapter_step5", "adapter_model.safetensors"))
            with open(os.path.join(out, "adapter_step5", "adapter_config.json"), "w") as f:
                f.write(json.dumps(T.adapter_config(model_rel), indent=2, sort_keys=True) + "\n")
        doc["cases"][case] = c
        print("%s %s: loss %.9f (fp32 %.9f), |grad| %.5f, steps %s" % (
            name, case, c["loss"], c["loss_fp32"], c["grad_norm_initial"],
            ["%.6f" % x for x in r32["losses"]]))
        print("  fp32-fp64 grads %s" % c["fp32_vs_fp64"]["grads"])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "pairs.json"), "w") as f:
        f.write(json.dumps(doc, indent=1) + "\n")


def do_stories():
    rel = "models/stories260K.gguf"
    m = R.load_gguf(os.path.join(R.REPO, rel))
    write_all("stories260K", rel, m, True, stories_pairs(m), 260)


def do_tiny_qwen2():
    rel = "models/tiny-qwen2"
    m = R.load_hf(os.path.join(R.REPO, rel))
    write_all("tiny_qwen2", rel, m, False, qwen_pairs(os.path.join(R.REPO, rel)), 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=None, help="stories260K tiny_qwen2")
    a = ap.parse_args()
    jobs = {"stories260K": do_stories, "tiny_qwen2": do_tiny_qwen2}
    for n in jobs:
        if a.only is None or n in a.only:
            jobs[n]()


if __name__ == "__main__":
    main()
