"""Writes llmgen/testdata/ fixtures: token ids that the Python `tokenizers` library gives for a few
hundred strings, for the caption tokenizer (models/caption/tokenizer.json) and for a standard GPT-2-style
byte-level BPE trained here on local English text (licenses and Python sources) with added special and
non-special tokens (llmgen/testdata/gpt2style/tokenizer.json). The Go tokenizer must give the same ids.

  training/.venv/bin/python training/caption/make_tokenizer_fixtures.py
"""
import glob
import json
import os
import random
import sys

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402

OUT = "llmgen/testdata"


def local_text():
    files = sorted(glob.glob("/usr/share/common-licenses/*"))[:12]
    files += sorted(glob.glob(os.path.join(os.path.dirname(os.__file__), "*.py")))[:60]
    out = []
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                out.append(fh.read())
        except (UnicodeDecodeError, IsADirectoryError):
            pass
    return out


def gpt2_style():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(vocab_size=4000, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(local_text(), trainer)
    tok.add_special_tokens(["<|pad|>", "[MASK]"])
    tok.add_tokens([AddedToken("camera-cam", normalized=False), AddedToken(" <sep>", normalized=False)])
    return tok


def strings():
    rng = random.Random(7)
    s = [
        "", " ", "  ", "\n", "\n\n", "\t", " \t\n ", "a", "A", "hello", " hello", "hello world", "Hello, World!",
        "hello  world", "hello   world  ", "  leading", "trailing  ", "tabs\tand\ttabs", "new\nline", "a\r\nb",
        "I'm", "you're", "they've", "we'll", "he'd", "it's", "IT'S", "don't stop", "O'Neil's", "'s", "'ll'", "''",
        "rock 'n' roll", "12", "123", "1234567890", "3.14159", "v1.2.3", "1,000,000", "-42", "+7", "1e-9", "0x1F",
        "２０２６", "٣٤٥", "Ⅻ", "½ ¾", "!!!", "?!", "...", "…", "--", "—", "(a)", "[b]", "{c}", "<d>", "@user",
        "#tag", "$100", "50%", "a+b=c", "x*y/z", "path/to/file.txt", "C:\\Windows", "https://example.com/a?b=c&d=e",
        "e-mail: a.b@c.de", "snake_case_name", "camelCaseName", "SCREAMING", "MiXeD", "naïve café", "Ünïcödé",
        "straße", "Ελληνικά", "Русский текст", "עברית", "العربية", "हिन्दी", "ไทย", "한국어 텍스트", "日本語のテキスト",
        "中文字符测试", "混合 mixed 文本", "😀", "😀😀", "👍🏽", "👨‍👩‍👧‍👦", "🇩🇪", "🙂 ok", "a😀b", "emoji at end 🎉",
        "\u200b", "zero\u200bwidth", "\u00a0nbsp", "a\u00a0\u00a0b", "\u3000ideographic space", "e\u0301", "\ufeffbom",
        "\x00", "ctrl\x01\x02", "\x7f", "tab\t\t\tend", "   \n   ", "a \n b", " \n", "x\n\n\ny", "end ",
        "<|endoftext|>", "text<|endoftext|>more", "<|pad|><|pad|>", "[MASK] word", "camera-cam on", "a <sep> b",
        "<|endoftext", "|>", "camera-camera", " <sep><sep>",
    ]
    for _ in range(40):
        ev = corpus.random_event(rng)
        s.append(corpus.prompt(ev) + " " + corpus.caption(rng, ev))
    pool = ("abc xyz The quick brown fox 12 345 ,.;:!? 'll 's 😀 中文 é ñ \n \t  \u00a0 ü → ∑ ½ -_=+ "
            "<|endoftext|> [MASK]").split(" ")
    for _ in range(140):
        n = rng.randint(1, 8)
        s.append("".join(rng.choice(pool) + rng.choice(["", " ", "  ", "\n", ""]) for _ in range(n)))
    for _ in range(40):
        s.append("".join(chr(rng.choice([rng.randint(32, 126), rng.randint(160, 0x2FF), rng.randint(0x4E00, 0x4FFF),
                                         rng.randint(0x1F600, 0x1F64F), 32, 10])) for _ in range(rng.randint(1, 24))))
    return s


def dump(tok, path, texts, name):
    cases = []
    for t in texts:
        enc = tok.encode(t)
        cases.append({"text": t, "ids": enc.ids, "decoded": tok.decode(enc.ids, skip_special_tokens=False)})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"tokenizer": name, "cases": cases}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"{path}: {len(cases)} cases")


def main():
    texts = strings()
    cap = Tokenizer.from_file("models/caption/tokenizer.json")
    dump(cap, os.path.join(OUT, "caption_fixtures.json"), texts, "models/caption/tokenizer.json")
    os.makedirs(os.path.join(OUT, "gpt2style"), exist_ok=True)
    g = gpt2_style()
    g.save(os.path.join(OUT, "gpt2style", "tokenizer.json"))
    dump(g, os.path.join(OUT, "gpt2style_fixtures.json"), texts, "llmgen/testdata/gpt2style/tokenizer.json")


if __name__ == "__main__":
    main()
