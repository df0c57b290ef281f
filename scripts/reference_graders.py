"""reference_graders.py: writes tests/golden/graders/cases.jsonl, the expected text_similarity
scores of src/eval/graders.h, from the reference implementations each metric follows:
  - fuzzy_match: rapidfuzz.fuzz.ratio(input, reference) / 100
  - bleu:        sacrebleu.sentence_bleu(input, [reference]).score / 100 (sacrebleu's defaults:
                 13a tokenizer, 'exp' smoothing, effective order)
  - rouge_1..5, rouge_l: rouge_score.rouge_scorer.RougeScorer([...], use_stemmer=False)
                 .score(reference, input)[...].fmeasure
Each line: {"input": ..., "reference": ..., "<metric>": score, ...}; a case whose text is not
valid UTF-8 gives "input_hex" / "reference_hex" (the bytes) instead, decoded here as
bytes.decode('utf-8', errors='replace'), as ftune decodes them. Scores are written with repr
(17 significant digits), so the C test compares them to 1e-12.

It also checks the claim graders_rouge.c builds on: of all non-ASCII code points, only U+0130 and
U+212A lowercase (str.lower()) into something with an ASCII letter or digit.

rapidfuzz, sacrebleu and rouge-score are reference tools only (pip install rapidfuzz sacrebleu
rouge-score); ftune and its tests need none of them. Deterministic (fixed seed); no arguments.
Run from the repository root: python3 scripts/reference_graders.py (a larger random check:
  python3 scripts/reference_graders.py --random 20000 --out /tmp/graders_cases.jsonl
  GRADERS_CASES=/tmp/graders_cases.jsonl ./build/unit_tests test_graders_similarity_golden)
"""
import argparse
import json
import os
import random
import re

import rapidfuzz
import sacrebleu
from rapidfuzz import fuzz
from rouge_score import rouge_scorer

OUT = "tests/golden/graders/cases.jsonl"
ROUGE_TYPES = ["rouge1", "rouge2", "rouge3", "rouge4", "rouge5", "rougeL"]
SCORER = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=False)


def check_lowercase_claim():
    found = []
    for c in range(0x80, 0x110000):
        if 0xD800 <= c < 0xE000:
            continue
        if re.search("[a-z0-9]", chr(c).lower()):
            found.append(c)
    assert found == [0x130, 0x212A], [hex(c) for c in found]
    assert chr(0x130).lower() == "i\u0307" and chr(0x212A).lower() == "k"


def scores(inp, ref):
    out = {"fuzzy_match": fuzz.ratio(inp, ref) / 100}
    out["bleu"] = sacrebleu.sentence_bleu(inp, [ref]).score / 100
    r = SCORER.score(ref, inp)
    for t in ROUGE_TYPES:
        name = "rouge_l" if t == "rougeL" else "rouge_" + t[-1]
        out[name] = float(r[t].fmeasure)
    return out


HAND = [
    # exact and empty
    ("Paris", "Paris"), ("", ""), ("", "Paris"), ("Paris", ""), ("   ", ""), (" ", " "),
    ("The cat sat on the mat.", "The cat sat on the mat."),
    ("the cat sat on the mat", "The cat sat on the mat."),
    ("The cat is on the mat.", "The cat sat on the mat."),
    ("cat", "dog"), ("a", "a b c d e"), ("a b c d e", "a"),
    # case
    ("HELLO WORLD", "hello world"), ("Hello World", "hello world"), ("ABC def", "abc DEF"),
    # punctuation
    ("Hello, world!", "Hello world"), ("Hello , world !", "Hello, world!"),
    ("Wait... what?!", "Wait. What?"), ("(a) [b] {c}", "a b c"), ("x/y\\z", "x / y \\ z"),
    ("'quoted' \"double\"", "quoted double"), ("it's", "it 's"), ("don't stop", "do not stop"),
    ("a;b:c", "a ; b : c"), ("#tag @user $5 %50 ^up _under `tick` ~tilde|pipe",
                            "tag user 5 50 up under tick tilde pipe"),
    ("end with period.", "end with period ."), ("e.g. i.e. etc.", "eg ie etc"),
    # numbers
    ("3.14", "3.14"), ("3.14", "3 . 14"), ("pi is 3.14.", "pi is 3.14"), ("1,000", "1000"),
    ("1,000,000 people", "1 000 000 people"), ("costs $1,000.50 today", "costs $1000.50 today"),
    ("2023-10-05", "2023 - 10 - 05"), ("10-20", "10 - 20"), ("a-b", "a - b"), ("x-1", "x - 1"),
    ("1.5.2", "1.5.2"), (".5 and 5.", "0.5 and 5"), ("v2,3", "v2, 3"), ("12:30", "12 : 30"),
    # hyphens and dashes
    ("state-of-the-art model", "state of the art model"), ("well-known", "well known"),
    ("line-\nbreak", "linebreak"), ("multi\nline\ntext", "multi line text"), ("em—dash", "em - dash"),
    ("en–dash 1–2", "en-dash 1-2"), ("-leading and trailing-", "leading and trailing"),
    # HTML entities and the 13a specials
    ("Tom &amp; Jerry", "Tom & Jerry"), ("&quot;hi&quot;", "\"hi\""), ("a &lt; b &gt; c", "a < b > c"),
    ("&amp;quot;", "&quot;"), ("&nbsp;x", "x"), ("AT&T", "AT & T"), ("<skipped> text", "text"),
    ("fish &amp; chips &amp; peas", "fish and chips and peas"),
    # whitespace
    ("a\tb\nc", "a b c"), ("  padded  ", "padded"), ("a\u00a0b", "a b"), ("a\u3000b", "a b"),
    ("a\u2028b", "a b"), ("a\x1cb", "a b"), ("a\x85b", "a b"), ("trailing\u2003", "trailing"),
    ("zero\u200bwidth", "zero width"),
    # Unicode: accents, CJK, other scripts, symbols
    ("café", "cafe"), ("Café au lait", "café au lait"), ("naïve résumé", "naive resume"),
    ("Ärger über Straße", "ärger über strasse"), ("ÉCOLE", "école"),
    ("東京は日本の首都です", "東京は日本の首都である"), ("我爱北京天安门", "我爱北京"),
    ("東京 大阪 京都", "東京 京都"), ("Привет, мир!", "привет мир"), ("Γειά σου Κόσμε", "γειά σου κόσμε"),
    ("مرحبا بالعالم", "مرحبا"), ("שלום עולם", "שלום"), ("नमस्ते दुनिया", "नमस्ते"),
    ("emoji 😀 test", "emoji test"), ("😀😀😀", "😀"), ("İstanbul", "istanbul"), ("İs it", "i s it"),
    ("5 K", "5 k"), ("\u212a", "k"), ("Ⅻ ½ ² ①", "12 1/2 2 1"), ("ﬁne ﬂow", "fine flow"),
    ("e\u0301", "é"), ("Å", "Å"), ("x y", "xy"),
    # repeated words
    ("the the the the", "the cat"), ("the cat the cat the cat", "the cat"),
    ("a a a a a a a a", "a a a a a a a a"), ("buffalo " * 8, "buffalo buffalo buffalo"),
    ("to be or not to be", "to be or not to be that is the question"),
    ("yes yes no", "no yes yes"), ("one two one two one", "two one two one two"),
    # labels like eval answers
    ("positive", "negative"), ("Positive", "positive"), ("billing", "billing_issue"),
    ("technical_support", "technical support"), ("The answer is B.", "B"), ("B", "The answer is B."),
    ("{\"label\": \"refund\"}", "refund"), ("yes", "Yes."), ("No", "no"),
    # sentences
    ("The quick brown fox jumps over the lazy dog.", "A quick brown dog jumps over the lazy fox."),
    ("The quick brown fox jumps over the lazy dog.", "The quick brown fox jumped over the lazy dog."),
    ("It is a guide to action which ensures that the military always obeys the commands of the party.",
     "It is a guide to action that ensures that the military will forever heed Party commands."),
    ("It is to insure the troops forever hearing the activity guidebook that party direct.",
     "It is a guide to action that ensures that the military will forever heed Party commands."),
    ("Please reset your password using the link in the email we sent you.",
     "You can reset your password with the link we emailed to you."),
    ("I was charged twice for my subscription this month.", "Customer reports a duplicate subscription charge."),
    ("Hello there general Kenobi", "Hello there general Kenobi!"), ("hello there", "hello there general kenobi"),
]


def random_cases(rng, n):
    words = ["the", "cat", "dog", "sat", "on", "mat", "a", "an", "is", "was", "The", "Cat", "3.14", "1,000",
             "state-of-the-art", "&amp;", "&quot;", "e.g.", "U.S.A.", "don't", "café", "東京", "日本", "Привет",
             "😀", "(x)", "[y]", "{z}", "a/b", "x-1", "10-20", "end.", "so,", "why?", "yes!", "İ", "K", "ß",
             "refund", "billing", "password", "reset", "link", "email", "charged", "twice", "42", "-", "--",
             "...", ",", ".", "<skipped>", "<b>", "&lt;", "naïve", "résumé", "ﬁ", "\u00a0", "\t", "\n", "  "]
    out = []
    for _ in range(n):
        a = rng.choice([1, 2, 3, 5, 8, 12, 20])
        ref = [rng.choice(words) for _ in range(a)]
        mode = rng.random()
        if mode < 0.35:  # edit the reference a little
            hyp = list(ref)
            for _ in range(rng.randint(0, 3)):
                op = rng.random()
                if op < 0.4 and hyp:
                    hyp[rng.randrange(len(hyp))] = rng.choice(words)
                elif op < 0.7:
                    hyp.insert(rng.randint(0, len(hyp)), rng.choice(words))
                elif hyp:
                    del hyp[rng.randrange(len(hyp))]
        elif mode < 0.55:  # shuffle
            hyp = list(ref)
            rng.shuffle(hyp)
        else:
            hyp = [rng.choice(words) for _ in range(rng.choice([1, 3, 6, 10, 16]))]
        sep = lambda: rng.choice([" ", " ", " ", "", "  "])
        out.append(("".join(w + sep() for w in hyp).strip(rng.choice([" ", ""])),
                    "".join(w + sep() for w in ref)))
    return out


def tricky_cases(rng, n):
    """Strings of small fragments chosen to hit the tokenizers' corners: periods and commas next to
    digits or not, dashes after digits, entities split or nested, "<skipped>", "-" before a newline,
    Python-only whitespace, case-changing letters."""
    frags = [".", ",", "-", "--", "1", "23", "4.5", "6,7", "a", "B", "xyz", "Q.", "&", "&amp;", "&amp",
             "quot;", "&quot;", "&lt;", "&gt;", "<", ">", "<skipped>", "skipped", "-\n", "\n", "\t", " ",
             " ", "  ", "\u00a0", "\u2003", "\x1c", "\x85", "\u3000", "!", "?", "'", '"', "(", ")", "$",
             "%", "/", "\\", "_", "`", "~", "|", "{", "}", "[", "]", "é", "É", "İ", "\u212a", "ß", "東",
             "😀", "\u0301", "0", "9", ".5", "5.", ",5", "5,"]
    out = []
    for _ in range(n):
        a = "".join(rng.choice(frags) for _ in range(rng.randint(0, 14)))
        if rng.random() < 0.5:
            b = "".join(rng.choice(frags) for _ in range(rng.randint(0, 14)))
        else:  # a variant of a
            b = "".join(c if rng.random() < 0.8 else rng.choice(frags) for c in a)
        out.append((a, b))
    return out


def long_cases(rng):
    vocab = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho".split()
    out = []
    for n_words in (40, 70, 150, 400):
        ref = [rng.choice(vocab) for _ in range(n_words)]
        hyp = [w if rng.random() < 0.8 else rng.choice(vocab) for w in ref]
        out.append((" ".join(hyp) + ".", " ".join(ref) + "."))
    # long character strings (the fuzzy_match LCS over several 64-bit words)
    letters = "abcdefghij ,.-é東😀"
    for n_chars in (63, 64, 65, 127, 128, 129, 500, 3000):
        ref = "".join(rng.choice(letters) for _ in range(n_chars))
        hyp = "".join(c if rng.random() < 0.85 else rng.choice(letters) for c in ref)
        out.append((hyp, ref))
    out.append(("x" * 1000, "x" * 999 + "y"))
    out.append(("ab" * 300, "ba" * 300))
    return out


# texts that are not valid UTF-8 (bytes), decoded with errors='replace'
INVALID = [
    (b"caf\xe9", b"caf\xc3\xa9"), (b"\xff\xfe abc", b"abc"), (b"a\xe2\x82b", b"a\xe2\x82\xacb"),
    (b"\xed\xa0\x80x", b"x"), (b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80"), (b"\xc0\xaf/", b"/"),
    (b"\xf4\x90\x80\x80 end", b"end"), (b"\x80\x80\x80", b"\xef\xbf\xbd"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT, help="where to write the cases (default: the committed goldens)")
    ap.add_argument("--random", type=int, default=0,
                    help="write only N random and tricky cases (seed --seed), for a larger one-off check: "
                         "GRADERS_CASES=FILE ./build/unit_tests test_graders_similarity_golden")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    check_lowercase_claim()
    if args.random:
        rng = random.Random(args.seed)
        pairs = random_cases(rng, args.random // 2) + tricky_cases(rng, args.random - args.random // 2)
        cases = [{"input": a, "reference": b} for a, b in pairs]
    else:
        rng = random.Random(20261206)
        pairs = HAND + random_cases(rng, 100) + tricky_cases(rng, 60) + long_cases(rng)
        cases = [{"input": a, "reference": b} for a, b in pairs]
    write(cases if args.random else cases + invalid_cases(), args.out)


def invalid_cases():
    cases = []
    for a, b in INVALID:
        cases.append({"input_hex": a.hex(), "reference_hex": b.hex(),
                      "input": a.decode("utf-8", "replace"), "reference": b.decode("utf-8", "replace")})
    return cases


def write(cases, out):
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for c in cases:
            row = {k: c[k] for k in ("input_hex", "reference_hex") if k in c}
            if not row:
                row = {"input": c["input"], "reference": c["reference"]}
            row.update(scores(c["input"], c["reference"]))
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases -> {out} (rapidfuzz {rapidfuzz.__version__}, sacrebleu {sacrebleu.__version__})")


if __name__ == "__main__":
    main()
