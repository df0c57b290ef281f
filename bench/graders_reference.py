"""graders_reference.py: the reference implementations behind src/eval/graders.h (rapidfuzz,
sacrebleu, rouge-score) timed on texts of the same shapes as build/bench_graders (8, 200 and
5,000 words from the same vocabulary, the input a copy of the reference with one word in five
replaced), printing the same JSON lines, so the two can be read side by side.
Usage: python3 bench/graders_reference.py [SECONDS_PER_CASE] (pip install rapidfuzz sacrebleu rouge-score)
"""
import json
import random
import sys
import time

import sacrebleu
from rapidfuzz import fuzz
from rouge_score import rouge_scorer

VOCAB = ["the", "customer", "was", "charged", "twice", "for", "subscription", "refund", "password", "reset",
         "link", "email", "3.14", "1,000", "state-of-the-art", "café", "東京", "&amp;", "(see", "below).", "Yes!"]


def metric_fn(name):
    if name == "fuzzy_match":
        return lambda a, b: fuzz.ratio(a, b) / 100
    if name == "bleu":
        return lambda a, b: sacrebleu.sentence_bleu(a, [b]).score / 100
    key = {"rouge_1": "rouge1", "rouge_2": "rouge2", "rouge_l": "rougeL"}[name]
    scorer = rouge_scorer.RougeScorer([key], use_stemmer=False)
    return lambda a, b: scorer.score(b, a)[key].fmeasure


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    rng = random.Random(7)
    for words in (8, 200, 5000):
        ref = [rng.choice(VOCAB) for _ in range(words)]
        inp = [w if rng.randrange(5) else rng.choice(VOCAB) for w in ref]
        ref_s, inp_s = " ".join(ref), " ".join(inp)
        for name in ("fuzzy_match", "bleu", "rouge_1", "rouge_2", "rouge_l"):
            fn, n, t0 = metric_fn(name), 0, time.perf_counter()
            while True:
                score = fn(inp_s, ref_s)
                n += 1
                t = time.perf_counter() - t0
                if t >= seconds:
                    break
            print(json.dumps({"metric": name, "words": words, "chars": len(ref_s), "score": round(score, 6),
                              "grades_per_s": round(n / t, 1), "us_per_grade": round(1e6 * t / n, 2)}))


if __name__ == "__main__":
    main()
