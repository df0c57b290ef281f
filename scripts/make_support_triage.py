#!/usr/bin/env python3
"""make_support_triage.py OUT_DIR [TRAIN_CSV]: rebuilds the support-triage dataset from BANKING77's public
training split, as ../shared/data/support-triage/README.md describes (for machines without
../shared): 30 intents grouped into billing / technical / account, 100 training and 30
validation messages per label sampled with a fixed seed, and a "bloated" baseline system prompt
(rules plus 15 few-shot examples, drawn from messages in neither set). Never uses BANKING77's test
split. Downloads train.csv from the PolyAI repository (CC BY 4.0) unless a local copy is given."""
import csv
import io
import json
import os
import random
import sys
import urllib.request

URL = "https://raw.githubusercontent.com/PolyAI-LDN/task-specific-datasets/master/banking_data/train.csv"
SYSTEM = "You are a support classifier. Respond with one label: billing, technical, or account."
GROUPS = {
    "billing": ["extra_charge_on_statement", "card_payment_fee_charged", "transaction_charged_twice",
                "transfer_fee_charged", "exchange_charge", "top_up_by_card_charge", "cash_withdrawal_charge",
                "top_up_by_bank_transfer_charge", "request_refund", "Refund_not_showing_up"],
    "technical": ["card_not_working", "contactless_not_working", "virtual_card_not_working", "pin_blocked",
                  "declined_card_payment", "declined_transfer", "declined_cash_withdrawal", "top_up_failed",
                  "failed_transfer", "card_swallowed"],
    "account": ["edit_personal_details", "verify_my_identity", "why_verify_identity", "unable_to_verify_identity",
                "terminate_account", "age_limit", "passcode_forgotten", "verify_source_of_funds", "change_pin",
                "lost_or_stolen_phone"],
}
PER_LABEL = {"train": 100, "validation": 30, "fewshot": 5}


def example(text, label):
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                         {"role": "assistant", "content": label}]}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    if len(sys.argv) > 2:
        text = open(sys.argv[2], encoding="utf-8").read()
    else:
        text = urllib.request.urlopen(URL, timeout=60).read().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    label_of = {intent: label for label, intents in GROUPS.items() for intent in intents}
    rng = random.Random(77)
    splits = {name: [] for name in PER_LABEL}
    for label in GROUPS:
        texts = sorted({r["text"].strip() for r in rows if label_of.get(r["category"]) == label})
        rng.shuffle(texts)
        at = 0
        for name, n in PER_LABEL.items():
            splits[name] += [(t, label) for t in texts[at:at + n]]
            at += n
    for name in ("train", "validation"):
        rng.shuffle(splits[name])
        with open(os.path.join(out, f"{name}.jsonl"), "w") as f:
            for text, label in splits[name]:
                f.write(json.dumps(example(text, label)) + "\n")
    rules = [
        "You are a support classifier for a mobile bank. Read the customer's message and answer with exactly one "
        "label, in lower case, with nothing else: billing, technical, or account.",
        "- billing: fees, charges, refunds, exchange rates, being charged twice, money taken unexpectedly.",
        "- technical: a card, payment, transfer, top-up or withdrawal that does not work, is declined or failed; "
        "blocked PINs; swallowed cards.",
        "- account: personal details, identity verification, closing the account, age limits, passcodes, PIN "
        "changes, lost or stolen phones, source of funds.",
        "Do not explain. Do not add punctuation. If several labels seem possible, pick the customer's main problem.",
        "Examples:",
    ]
    rng.shuffle(splits["fewshot"])
    rules += [f"Customer: {t}\nLabel: {label}" for t, label in splits["fewshot"]]
    with open(os.path.join(out, "baseline_system_prompt.txt"), "w") as f:
        f.write("\n".join(rules) + "\n")
    print(f"wrote {out}: {len(splits['train'])} training, {len(splits['validation'])} validation examples")


if __name__ == "__main__":
    main()
