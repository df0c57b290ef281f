#!/usr/bin/env python3
"""golden_tokenizer.py: writes the tokenizer reference ids that tests/unit/test_tokenizer.c checks.

Usage: python3 scripts/golden_tokenizer.py [--only NAME]

1. Builds the test corpus deterministically (hand-written strings plus seeded random mixes) and
   writes it to tests/golden/tokenizer/corpus.json (a JSON list of strings).
2. Writes the hand-made tokenizer fixtures under tests/data/ (derived deterministically):
   tokenizer_qwen2_nfc.json (the tiny Qwen2 tokenizer plus an NFC normalizer and added tokens
   with lstrip/rstrip/single_word/normalized), tokenizer_spm_legacy.json and
   tokenizer_spm_metaspace.json (stories260K's SentencePiece vocabulary as an HF BPE with byte
   fallback, in the Llama-2 "legacy" Prepend+Replace form and the Metaspace form),
   tokenizer_llama3_style.json (the tiny Qwen2 vocabulary with Llama 3's regex, ignore_merges and
   a BOS template), and tokenizer_qwen2_pre.gguf / tokenizer_llama_bpe_pre.gguf (tokenizer-only
   GGUFs of the tiny Qwen2 vocabulary with tokenizer.ggml.pre "qwen2" / "llama-bpe").
3. For each tokenizer, encodes every corpus string with the reference implementation and writes
   tests/golden/tokenizer/<name>.json:
     {"name", "tokenizer", "reference", "cases": [{"text" (or "hex" for raw bytes),
       "add": ids with add_special + parse_special, "noadd": parse_special only (omitted when
       equal to "add"), "noparse": neither (omitted when equal to "noadd"), "decoded" /
       "decoded_skip": HF decode of noparse / noadd ids (omitted when equal to the text / to
       "decoded")}]}
   References: PyPI `tokenizers` (Tokenizer.from_file(p).encode(text, add_special_tokens=...);
   parse_special=False is `encode_special_tokens = True`) and PyPI `llama-cpp-python`
   (Llama(vocab_only=True).tokenize(bytes, add_bos=..., special=...)) for GGUF files.
4. Prints where llama.cpp (GGUF) and HF (tokenizer.json) disagree on SmolLM2.

The committed goldens are read by the C tests without Python. Run from the repository root.
"""
import argparse
import json
import os
import random
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN_DIR = os.path.join(ROOT, "tests", "golden", "tokenizer")
DATA_DIR = os.path.join(ROOT, "tests", "data")
SEED = 20240611
N_RANDOM = 120

SMOLLM2_JSON = ["../shared/models/smollm2-135m-instruct-tokenizer/tokenizer.json",
                "models/smollm2-135m-instruct-tokenizer/tokenizer.json"]
SMOLLM2_GGUF = ["models/SmolLM2-135M-Instruct.Q4_1.gguf"]
STORIES_GGUF = ["../shared/models/stories260K/stories260K.gguf", "models/stories260K.gguf"]
TINY_QWEN2_JSON = ["models/tiny-qwen2/tokenizer.json"]
MINILM_JSON = ["models/all-MiniLM-L6-v2/tokenizer.json"]  # WordPiece (BertNormalizer, BertPreTokenizer)


def first_existing(paths):
    for p in paths:
        full = os.path.join(ROOT, p)
        if os.path.exists(full):
            return p
    return None


# ---------------------------------------------------------------- corpus

BASE = [
    "",
    "Hello world",
    "Hello, world!",
    "hello world",
    "HELLO WORLD",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you're right; we've seen it, they'd say, and I'll go.",
    "I'M SURE YOU'RE RIGHT; WE'VE SEEN IT, THEY'D SAY, AND I'LL GO.",
    "don't won't can't shouldn't it's 'tis ''quoted'' 's 't",
    "rock'n'roll o'clock y'all ma'am",
    " leading space",
    "  two leading spaces",
    "trailing space ",
    "trailing spaces   ",
    "   ",
    " ",
    "\t",
    "\n",
    "\n\n",
    "\n\n\n\n",
    "\r\n",
    "line one\r\nline two\r\n",
    "line one\nline two\n\nline four",
    "a\rb",
    "tab\tseparated\tvalues",
    "\t\tindented with tabs",
    "mixed \t \n whitespace \n\t ",
    "spaces    in     between",
    "x" + " " * 40 + "y",
    " " * 17,
    "\n" * 9 + "text",
    "text" + "\n" * 5,
    "a \n b",
    "a  \n  b",
    "word\u00a0nbsp",
    "ideographic\u3000space",
    "en\u2002em\u2003thin\u2009hair\u200a",
    "next\u0085line",
    "line\u2028separator\u2029paragraph",
    "vertical\x0btab\x0cformfeed",
    "zero\u200bwidth\u200cnon\u200djoiner",
    "\ufeffbyte order mark",
    "0",
    "7",
    "42",
    "123",
    "1234",
    "12345",
    "1234567890",
    "3.14159265358979323846",
    "-273.15",
    "1,000,000",
    "1 000 000",
    "2024-06-11T12:34:56Z",
    "+1 (555) 123-4567",
    "0x1F 0b1010 0o777 1e-9 6.02e23",
    "99999999999999999999999999999999999999999999999999",
    "Version 2.0.1-beta+build.5",
    "\u0660\u0661\u0662\u0663 Arabic-Indic digits",
    "\uff11\uff12\uff13 fullwidth digits",
    "x\u00b2 + y\u00b3 = z\u00b9",
    "\u00bd \u00bc \u00be fractions",
    "\u216b Roman twelve",
    "\u0967\u0968\u0969 Devanagari digits",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade",
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301",
    "\u00c5ngstr\u00f6m vs A\u030angstro\u0308m vs \u212bngstr\u00f6m",
    "Stra\u00dfe Gr\u00fc\u00dfe \u0130stanbul \u0131",
    "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0401\u0436",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0627\u0644\u0633\u0651\u064e\u0644\u0627\u0645\u064f \u0639\u064e\u0644\u064e\u064a\u0652\u0643\u064f\u0645\u0652",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd with niqqud",
    "mixed \u05e2\u05d1\u05e8\u05d9\u05ea and English \u0627\u0644\u0639\u0631\u0628\u064a\u0629 123",
    "\u200fRTL mark\u200e LTR mark\u202b embed\u202c",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01",
    "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4",
    "\u1100\u1161\u11a8 conjoining jamo",
    "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c \u30ab\u30bf\u30ab\u30ca",
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01\u6211\u4eec\u6765\u6d4b\u8bd5\u4e00\u4e0b\u3002",
    "\u6f22\u5b57\u304b\u306a\u6df7\u3058\u308a\u6587",
    "\U00020000\U0002a6d6 CJK extension B",
    "\u1e9b\u0323 \u1e69 \u0958 \u2126 composition exclusions",
    "\u0344 \u0340\u0341 singletons",
    "a\u0300\u0301\u0302\u0303\u0304 stacked",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333",
    "\u0301 leading combining mark",
    "\u0308\u0308\u0308",
    "\U0001f600",
    "\U0001f600\U0001f603\U0001f604",
    "emoji \U0001f389 party \U0001f680 rocket",
    "\U0001f44d\U0001f3fd thumbs with skin tone",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",
    "\U0001f3f3\ufe0f\u200d\U0001f308 rainbow flag",
    "\U0001f1fa\U0001f1f8\U0001f1ef\U0001f1f5 flags",
    "1\ufe0f\u20e3 #\ufe0f\u20e3 keycaps",
    "\u2764\ufe0f \u2764 hearts",
    "\U0001f9d1\u200d\U0001f4bb technologist",
    "\U0001f926\U0001f3fb\u200d\u2642\ufe0f facepalm",
    "\u263a\u2639\u2620\u2622\u2623 symbols",
    "\u00a9 \u00ae \u2122 \u00a7 \u00b6 \u2020 \u2021",
    "\u20ac100 \u00a350 \u00a51000 $20 \u20b9500 \u20bf0.1",
    "\u2200x \u2208 \u211d: x\u00b2 \u2265 0 \u2227 \u221e \u2260 \u2205",
    "\u2190\u2191\u2192\u2193 \u21d2 \u21d4",
    "\u2500\u2502\u250c\u2510 box \u2588\u2591\u2592\u2593",
    "\ue000\ue001 private use",
    "\uffff\ufffe noncharacters",
    "\ufffd replacement char",
    "\U0010ffff max code point",
    "\x00nul\x00byte",
    "\x01\x02\x03\x1b[31mred\x1b[0m\x7f",
    "!!!",
    "...",
    "?!?!",
    "\u2026 ellipsis char",
    "em\u2014dash en\u2013dash hyphen-minus",
    "\u201csmart quotes\u201d \u2018single\u2019 \u00abguillemets\u00bb \u201elow\u201c",
    "(parens) [brackets] {braces} <angles>",
    "a+b=c; d*e/f%g^h|i&j~k",
    "@user #hashtag $var %pct ^caret &amp *star",
    "email@example.com https://example.com/path?q=1&r=two#frag",
    "C:\\Windows\\System32\\drivers\\etc\\hosts",
    "/usr/local/bin/python3 --version",
    "def f(x):\n    return x ** 2\n",
    "def greet(name: str) -> str:\n    \"\"\"Say hi.\"\"\"\n    return f\"Hello, {name}!\"\n\nprint(greet('world'))\n",
    "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}\n",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); return 0; }\n",
    "{\"key\": \"value\", \"list\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
    "<html><head><title>Test</title></head><body><p class=\"x\">Hi</p></body></html>",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "$ ls -la | grep '^d' && echo \"done\" > /dev/null 2>&1",
    "^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$",
    "# Title\n\n- item *one*\n- item **two**\n\n```python\nx = 1\n```\n",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "    four-space indent\n        eight-space indent",
    "if x:\n\tif y:\n\t\treturn z",
    "camelCaseIdentifier snake_case_identifier SCREAMING_CASE kebab-case",
    "__init__ __dunder__ _private",
    "x=1;y=2;z=x+y",
    "a_b_c_d_e_f_g",
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n",
    "<|im_start|><|im_end|>",
    "<|im_start|><|im_start|><|im_start|>",
    "text<|endoftext|>more text",
    " <|im_end|> ",
    "<|im_start",
    "im_start|>",
    "<|im_start|<|im_end|>",
    "<|im_start |>",
    "<|IM_START|>",
    "<<|im_end|>>",
    "<|<|endoftext|>|>",
    "<s>",
    "</s>",
    "<unk>",
    "<s>Hello</s>",
    "<s> Hello </s>",
    "<s><s></s></s>",
    "< s >",
    "<S>",
    "<<s>>",
    "</s>x<s>",
    "<unk><unk>",
    "a<unk>b",
    "<repo_name>ftune<file_sep>main.c<filename>",
    "<jupyter_start><jupyter_code>print(1)<jupyter_output>1",
    "<0x41> looks like a byte token",
    "<0x0A><0xFF>",
    "\u2581leading lower one eighth block",
    "\u2581\u2581\u2581",
    "a\u2581b",
    "\u0120\u010a GPT-2 byte-map characters",
    "\u0100\u0101\u0143",
    "null \\u0000 escaped",
    "back\\slash \\n not newline",
    "tabs\t\tand\nnewlines\r\nmixed\r",
    "ALLCAPS words AND lowercase",
    "MiXeD CaSe WoRdS",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "The year 1999 and 2000; 31st December; 1st, 2nd, 3rd, 4th.",
    "Call 911 or 112. Room 101. Agent 007.",
    "Price: $1,234.56 (incl. 20% VAT)",
    "π≈3.14 e≈2.718 φ≈1.618",
    "H\u2082O CO\u2082 E=mc\u00b2",
    "\u00bfQu\u00e9 tal? \u00a1Muy bien!",
    "Na\u00efve co\u00f6perate r\u00f4le \u00e9l\u00e8ve",
    "\u0141\u00f3d\u017a \u017c\u00f3\u0142w \u0107ma",
    "\u010ce\u0161tina \u0159e\u0161\u00ed \u017elu\u0165ou\u010dk\u00fd k\u016f\u0148",
    "Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u",
    "Ti\u00ea\u0301ng Vi\u00ea\u0323t decomposed",
    "\u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8 Georgian",
    "\u0540\u0561\u0575\u0565\u0580\u0565\u0576 Armenian",
    "\u12a0\u121b\u122d\u129b Amharic",
    "\u0baa\u0ba4\u0bbf\u0ba9\u0bcd Tamil \u0c24\u0c46\u0c32\u0c41\u0c17\u0c41 Telugu",
    "\u1019\u103c\u1014\u103a\u1019\u102c Burmese",
    "\u0f56\u0f7c\u0f51\u0f0b Tibetan",
    "\u13e3\u13b3\u13a9 Cherokee",
    "\U0001d400\U0001d401\U0001d402 math bold",
    "\uff21\uff22\uff23\uff41\uff42\uff43 fullwidth letters",
    "\u3371\u33ab compatibility squares",
    "\ufb01 \ufb02 ligatures",
    "\u2460\u2461\u2462 circled",
    "\u0300",
    "e\u0301",
    "\u00e9",
    "\u1100\u1161",
    "\uac00",
    "\ud55c\uad6d\uc5b4 \ud55c\u1100\u1161\u11ab",
    "x" * 300,
    "ab " * 100,
    "0123456789" * 12,
    "\U0001f600" * 20,
    "\u4f60\u597d" * 40,
    "word " * 50 + "end",
    "\n \n \n \n",
    " \t \t ",
    "end with newline\n",
    "end with crlf\r\n",
    "'",
    "''",
    "'s",
    " 's",
    "'S",
    "I'",
    "it's'",
    "\"",
    "\\",
    "~",
    "`backticks`",
    "a.b.c",
    "a-b-c",
    "a/b/c",
    "1.2.3",
    "1-2-3",
    "v1.0",
    "3rd",
    "x1y2z3",
    "1a2b3c",
]

CHAR_POOL = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    + list("0123456789") * 2
    + list(" " * 12 + "\t\n\r")
    + list(".,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`")
    + list("\u00e9\u00e8\u00fc\u00f1\u00df\u00e7\u0301\u0308\u0327")
    + list("\u4f60\u597d\u4e16\u754c\u3042\u30a2\ud55c")
    + list("\u0645\u0631\u05e9\u05dc\u0928\u0947\u0e2a")
    + ["\U0001f600", "\U0001f44d", "\U0001f3fd", "\u200d", "\ufe0f", "\u2764", "\U0001f468", "\U0001f469"]
    + ["\u00a0", "\u3000", "\u2003", "\u200b", "\u2581", "\u0120"]
    + ["<s>", "</s>", "<unk>", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<0x0A>"]
    + ["the", " the", "ing", "tion", " and", "'s", "'ll", "123", "2024"]
)


def build_corpus():
    rng = random.Random(SEED)
    out = list(BASE)
    for _ in range(N_RANDOM):
        n = rng.randint(1, 40)
        out.append("".join(rng.choice(CHAR_POOL) for _ in range(n)))
    # Words glued by random separators.
    words = ["hello", "world", "token", "izer", "\u00e9t\u00e9", "\u4e2d\u6587", "42", "3.14", "ok", "\U0001f600"]
    seps = [" ", "  ", "\n", "\t", "", "-", ", ", "\r\n", " \n "]
    for _ in range(40):
        k = rng.randint(2, 8)
        out.append("".join(rng.choice(words) + rng.choice(seps) for _ in range(k)))
    seen, uniq = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            uniq.append(s)
    return uniq


# Raw byte strings (not valid UTF-8), for the GGUF tokenizers only: llama.cpp turns every byte
# that does not start a well-formed sequence into U+FFFD (BPE) or byte tokens (SPM).
INVALID_BYTES = [
    b"\xff",
    b"\xfe\xff",
    b"abc\x80def",
    b"\xc3",
    b"caf\xc3",
    b"\xc3(",
    b"\xe2\x82",
    b"\xe2\x82 x",
    b"\xf0\x9f\x98",
    b"\xf0\x9f\x98 smile",
    b"\x80\x81\x82",
    b"hello \xc0\xaf world",
    b"mixed \xe4\xbd\xa0\xff\xe5\xa5\xbd",
    b"\xed\x9f\xbf ok",
    b"<|im_start|>\xff<|im_end|>",
    b"<s>\xfe</s>",
]


# ---------------------------------------------------------------- fixtures

def write_json(path, obj, indent=None):
    if indent == "cases":  # one case per line: small files, readable diffs
        head = {k: v for k, v in obj.items() if k != "cases"}
        lines = [json.dumps(c, ensure_ascii=False) for c in obj["cases"]]
        text = json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [\n' + ",\n".join(lines) + "\n]}"
    elif indent == "list":
        text = "[\n" + ",\n".join(json.dumps(x, ensure_ascii=False) for x in obj) + "\n]"
    else:
        text = json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=False)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def make_qwen2_nfc(tiny_path, out_path):
    """The tiny Qwen2 tokenizer plus NFC and added tokens with every option HF has."""
    with open(os.path.join(ROOT, tiny_path), encoding="utf-8") as f:
        d = json.load(f)
    d["normalizer"] = {"type": "NFC"}
    next_id = max(t["id"] for t in d["added_tokens"]) + 1
    extra = [
        ("<tool_call>", True, False, False, False, False),
        ("[MASK]", False, True, True, False, False),
        ("hello", False, False, False, True, True),
        ("caf\u00e9", False, False, False, False, True),
        ("<|sep|>", False, False, True, False, False),
    ]
    for content, special, lstrip, rstrip, single_word, normalized in extra:
        d["added_tokens"].append({"id": next_id, "content": content, "single_word": single_word,
                                  "lstrip": lstrip, "rstrip": rstrip, "normalized": normalized,
                                  "special": special})
        next_id += 1
    write_json(os.path.join(ROOT, out_path), d)


LLAMA3_SPLIT_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                      r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def make_llama3_style(tiny_path, out_path):
    """The tiny Qwen2 vocabulary in Llama 3's tokenizer.json form: Llama 3's split regex,
    ignore_merges, and a TemplateProcessing post-processor that adds <|begin_of_text|>."""
    with open(os.path.join(ROOT, tiny_path), encoding="utf-8") as f:
        d = json.load(f)
    bos_id = max(t["id"] for t in d["added_tokens"]) + 1
    d["added_tokens"].append({"id": bos_id, "content": "<|begin_of_text|>", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True})
    d["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {"Regex": LLAMA3_SPLIT_REGEX}
    d["model"]["ignore_merges"] = True
    d["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [bos_id],
                                                  "tokens": ["<|begin_of_text|>"]}}}]}
    write_json(os.path.join(ROOT, out_path), d)


def make_bpe_gguf(tiny_path, out_path, pre):
    """A tokenizer-only GGUF (no tensors) with the tiny Qwen2 vocabulary and merges and the given
    tokenizer.ggml.pre, so that llama.cpp's pre-tokenizer choice for that name is checked."""
    import gguf
    with open(os.path.join(ROOT, tiny_path), encoding="utf-8") as f:
        d = json.load(f)
    vocab = d["model"]["vocab"]
    n = max(list(vocab.values()) + [t["id"] for t in d["added_tokens"]]) + 1
    tokens, types = [""] * n, [1] * n
    for k, v in vocab.items():
        tokens[v] = k
    for t in d["added_tokens"]:
        tokens[t["id"]], types[t["id"]] = t["content"], 3
    merges = [m if isinstance(m, str) else " ".join(m) for m in d["model"]["merges"]]
    w = gguf.GGUFWriter(os.path.join(ROOT, out_path), "llama")
    w.add_context_length(512)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(64)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<|endoftext|>"))
    w.add_eos_token_id(tokens.index("<|im_end|>"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def read_gguf_spm(path):
    import gguf
    r = gguf.GGUFReader(os.path.join(ROOT, path))
    f = r.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    f = r.fields["tokenizer.ggml.scores"]
    scores = [float(f.parts[i][0]) for i in f.data]
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    return tokens, scores, types


def make_spm_bpe(gguf_path, out_legacy, out_metaspace):
    """stories260K's vocabulary as an HF BPE tokenizer with byte fallback: merges are every
    split of a vocabulary entry into two entries, ordered by the entry's score (the way HF's
    SentencePiece converter derives them)."""
    tokens, scores, types = read_gguf_spm(gguf_path)
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = []
    for i, t in enumerate(tokens):
        if types[i] != 1 or len(t) < 2:
            continue
        local = []
        for k in range(1, len(t)):
            a, b = t[:k], t[k:]
            if a in vocab and b in vocab and types[vocab[a]] == 1 and types[vocab[b]] == 1:
                local.append((vocab[a], vocab[b], a, b))
        local.sort()
        merges.extend((scores[i], i, a, b) for (_, _, a, b) in local)
    merges.sort(key=lambda m: (-m[0], m[1]))
    added = []
    for i, t in enumerate(tokens):
        if types[i] in (2, 3):
            added.append({"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True})
    model = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
             "vocab": vocab, "merges": [[a, b] for (_, _, a, b) in merges]}
    post = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    legacy = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
              "normalizer": {"type": "Sequence", "normalizers": [
                  {"type": "Prepend", "prepend": "\u2581"},
                  {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
              "pre_tokenizer": None, "post_processor": post,
              "decoder": {"type": "Sequence", "decoders": [
                  {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                  {"type": "ByteFallback"}, {"type": "Fuse"},
                  {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
              "model": model}
    write_json(os.path.join(ROOT, out_legacy), legacy)
    meta = dict(legacy)
    meta["normalizer"] = None
    meta["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    meta["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "ByteFallback"},
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}]}
    write_json(os.path.join(ROOT, out_metaspace), meta)


# ---------------------------------------------------------------- references

def compact(case, add, noadd, noparse):
    """The three id lists, each stored only where it differs from the previous one."""
    case["add"] = add
    if noadd != add:
        case["noadd"] = noadd
    if noparse != noadd:
        case["noparse"] = noparse
    return case


def expand(case):
    add = case["add"]
    noadd = case.get("noadd", add)
    return {"add": add, "noadd": noadd, "noparse": case.get("noparse", noadd)}


def golden_hf(name, path, corpus, config=None):
    from tokenizers import Tokenizer
    import tokenizers
    tok = Tokenizer.from_file(os.path.join(ROOT, path))
    # a file's own truncation/padding (all-MiniLM-L6-v2's: 128, fixed) is the caller's policy, not the
    # tokenizer's: ftune's tok_encode applies neither (the encoder truncates as sentence-transformers)
    tok.no_truncation()
    tok.no_padding()
    cases = []
    for text in corpus:
        tok.encode_special_tokens = False
        add = tok.encode(text, add_special_tokens=True).ids
        noadd = tok.encode(text, add_special_tokens=False).ids
        tok.encode_special_tokens = True
        noparse = tok.encode(text, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        case = compact({"text": text}, add, noadd, noparse)
        decoded = tok.decode(noparse, skip_special_tokens=False)
        decoded_skip = tok.decode(noadd, skip_special_tokens=True)
        # HF's ByteLevel decoder maps an added token's characters byte-wise (so "caf\u00e9" decodes
        # to "caf\ufffd"); ftune decodes added tokens verbatim, like llama.cpp: no decode golden then.
        if "\ufffd" in decoded + decoded_skip and "\ufffd" not in text:
            case["decode_note"] = "HF decodes a non-ASCII added token byte-wise"
        else:  # stored only where they differ from the text / the plain decode
            if decoded != text:
                case["decoded"] = decoded
            if decoded_skip != decoded:
                case["decoded_skip"] = decoded_skip
        cases.append(case)
    out = {"name": name, "tokenizer": path, "config": config, "kind": "hf",
           "reference": "tokenizers %s" % tokenizers.__version__, "cases": cases}
    write_json(os.path.join(GOLDEN_DIR, name + ".json"), out, indent="cases")
    print("%s: %d strings (%s)" % (name, len(cases), out["reference"]))
    return out


def golden_llama(name, path, corpus):
    import llama_cpp
    llm = llama_cpp.Llama(model_path=os.path.join(ROOT, path), vocab_only=True, verbose=False)
    cases = []
    items = [(t, t.encode("utf-8"), False) for t in corpus] + [(None, b, True) for b in INVALID_BYTES]
    for text, raw, is_hex in items:
        case = {"hex": raw.hex()} if is_hex else {"text": text}
        cases.append(compact(case, llm.tokenize(raw, add_bos=True, special=True),
                             llm.tokenize(raw, add_bos=False, special=True),
                             llm.tokenize(raw, add_bos=False, special=False)))
    out = {"name": name, "tokenizer": path, "kind": "gguf",
           "reference": "llama-cpp-python %s" % llama_cpp.__version__, "cases": cases}
    write_json(os.path.join(GOLDEN_DIR, name + ".json"), out, indent="cases")
    print("%s: %d strings (%s)" % (name, len(cases), out["reference"]))
    return out


def compare(a, b, modes=("add", "noadd", "noparse")):
    """Prints the corpus strings on which two goldens disagree."""
    by_text = {c.get("text"): c for c in b["cases"] if "text" in c}
    diff = 0
    for c in a["cases"]:
        o = by_text.get(c.get("text"))
        if o is None:
            continue
        ce, oe = expand(c), expand(o)
        for k in modes:
            if ce[k] != oe[k]:
                diff += 1
                print("  %s vs %s differ on %r (%s):\n    %s\n    %s" % (a["name"], b["name"], c["text"][:60], k,
                                                                    ce[k][:20], oe[k][:20]))
                break
    print("%s vs %s: %d of %d strings differ" % (a["name"], b["name"], diff, len(a["cases"])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", help="write only this golden")
    args = ap.parse_args()
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    os.makedirs(DATA_DIR, exist_ok=True)
    corpus = build_corpus()
    write_json(os.path.join(GOLDEN_DIR, "corpus.json"), corpus, indent="list")
    print("corpus: %d strings" % len(corpus))

    want = lambda n: not args.only or args.only == n
    results = {}
    smol_json = first_existing(SMOLLM2_JSON)
    if smol_json and want("smollm2_hf"):
        results["smollm2_hf"] = golden_hf("smollm2_hf", smol_json, corpus)
    smol_gguf = first_existing(SMOLLM2_GGUF)
    if smol_gguf and want("smollm2_gguf"):
        results["smollm2_gguf"] = golden_llama("smollm2_gguf", smol_gguf, corpus)
    stories = first_existing(STORIES_GGUF)
    if stories and want("stories260k_gguf"):
        results["stories260k_gguf"] = golden_llama("stories260k_gguf", stories, corpus)
    if stories:
        make_spm_bpe(stories, "tests/data/tokenizer_spm_legacy.json", "tests/data/tokenizer_spm_metaspace.json")
        if want("spm_legacy_hf"):
            golden_hf("spm_legacy_hf", "tests/data/tokenizer_spm_legacy.json", corpus)
        if want("spm_metaspace_hf"):
            golden_hf("spm_metaspace_hf", "tests/data/tokenizer_spm_metaspace.json", corpus)
    tiny = first_existing(TINY_QWEN2_JSON)
    if tiny:
        if want("tiny_qwen2_hf"):
            results["tiny_qwen2_hf"] = golden_hf("tiny_qwen2_hf", tiny, corpus,
                                                 config="models/tiny-qwen2/tokenizer_config.json")
        make_qwen2_nfc(tiny, "tests/data/tokenizer_qwen2_nfc.json")
        make_llama3_style(tiny, "tests/data/tokenizer_llama3_style.json")
        if want("llama3_style_hf"):
            results["llama3_style_hf"] = golden_hf("llama3_style_hf", "tests/data/tokenizer_llama3_style.json", corpus)
        for pre, name in (("qwen2", "qwen2_pre_gguf"), ("llama-bpe", "llama_bpe_pre_gguf")):
            path = "tests/data/tokenizer_%s.gguf" % name.replace("_gguf", "")
            make_bpe_gguf(tiny, path, pre)
            if want(name):
                results[name] = golden_llama(name, path, corpus)
        if "qwen2_pre_gguf" in results and "tiny_qwen2_hf" in results:
            compare(results["qwen2_pre_gguf"], results["tiny_qwen2_hf"])
        if "llama_bpe_pre_gguf" in results and "llama3_style_hf" in results:  # BOS ids differ
            compare(results["llama_bpe_pre_gguf"], results["llama3_style_hf"], ("noadd", "noparse"))
    if os.path.exists(os.path.join(DATA_DIR, "tokenizer_qwen2_nfc.json")) and want("qwen2_nfc_hf"):
        golden_hf("qwen2_nfc_hf", "tests/data/tokenizer_qwen2_nfc.json", corpus)
    minilm = first_existing(MINILM_JSON)
    if minilm and want("minilm_hf"):
        golden_hf("minilm_hf", minilm, corpus)
    if "smollm2_hf" in results and "smollm2_gguf" in results:
        compare(results["smollm2_gguf"], results["smollm2_hf"])


if __name__ == "__main__":
    sys.exit(main())
