"""Generate CLIP tokenizer fixtures (the real openai CLIP vocabulary) for the Go package diffusion.

Run from the repository root:  training/.venv/bin/python training/diffusion/gen_clip_tokenizer_fixtures.py
diffusion/testdata/clip_merges.txt.gz holds CLIP's 48,894 BPE merges (from bpe_simple_vocab_16e6.txt.gz, which
the PyPI package open_clip_torch ships; MIT licence, OpenAI). The vocabulary is rebuilt from them the way CLIP
does (256 byte symbols, the same with "</w>", one token per merge, <|startoftext|>, <|endoftext|>: 49,408
tokens, identical to openai/clip-vit-large-patch14's vocab.json). transformers' CLIPTokenizer loads that pair and
its ids for the WordPiece fixture strings plus prompts are written to diffusion/testdata/clip_tokenizer.json.
"""
import gzip
import json
import os
import sys
import tempfile

from transformers import CLIPTokenizer

sys.path.insert(0, os.path.dirname(__file__))
from export_tiny_sd import CORPUS, bytes_to_unicode  # noqa: E402


def main():
    merges = gzip.open("diffusion/testdata/clip_merges.txt.gz", "rt", encoding="utf-8").read().split("\n")[1:]
    merges = [m for m in merges if m]
    assert len(merges) == 48894, len(merges)
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with tempfile.TemporaryDirectory() as d:
        json.dump({t: i for i, t in enumerate(vocab)}, open(os.path.join(d, "vocab.json"), "w"))
        open(os.path.join(d, "merges.txt"), "w").write("#version: 0.2\n" + "\n".join(merges) + "\n")
        json.dump({"model_max_length": 77}, open(os.path.join(d, "tokenizer_config.json"), "w"))
        tok = CLIPTokenizer.from_pretrained(d)
    texts = [c["text"] for c in json.load(open("diffusion/testdata/wordpiece.json"))["cases"]] + CORPUS
    cases = []
    for s in texts:
        ids = tok(s, padding="max_length", max_length=77, truncation=True).input_ids
        cases.append({"text": s, "ids": ids})
    with open("diffusion/testdata/clip_tokenizer.json", "w", encoding="utf-8") as f:
        json.dump({"generator": "training/diffusion/gen_clip_tokenizer_fixtures.py", "vocab_size": len(vocab),
                   "cases": cases}, f, ensure_ascii=False, separators=(",", ":"))
    print(len(cases), "strings")


if __name__ == "__main__":
    main()
