"""Builds the caption corpus and trains its GPT-2-style byte-level BPE tokenizer.

Writes models/caption/tokenizer.json (shared by draft and target) and training/data/caption/{train,val}.pt
(token ids and prompt lengths, so training needs only torch). Run from the repository root:
  training/.venv/bin/python -m training.caption build-data
"""
import argparse
import os

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from training.caption import corpus


def train_tokenizer(texts, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=corpus.SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def encode(tok, pairs):
    eos = tok.token_to_id(corpus.END)
    out = []
    for _, p, c in pairs:
        pi = tok.encode(p).ids
        ci = tok.encode(c).ids
        out.append((pi + ci + [eos], len(pi)))
    return out


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=60000)
    ap.add_argument("--val", type=int, default=2000)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tokenizer", default="models/caption/tokenizer.json")
    ap.add_argument("--data", default="training/data/caption")
    a = ap.parse_args(argv)
    train = corpus.build(a.train, a.seed)
    val = corpus.build(a.val, a.seed + 1000)
    tok = train_tokenizer([p + c for _, p, c in train], a.vocab)
    os.makedirs(os.path.dirname(a.tokenizer), exist_ok=True)
    tok.save(a.tokenizer)
    os.makedirs(a.data, exist_ok=True)
    tr, va = encode(tok, train), encode(tok, val)
    torch.save({"seqs": tr, "eos": tok.token_to_id(corpus.END), "vocab": tok.get_vocab_size()},
               os.path.join(a.data, "train.pt"))
    torch.save({"seqs": va, "events": [e for e, _, _ in val], "eos": tok.token_to_id(corpus.END),
                "vocab": tok.get_vocab_size()}, os.path.join(a.data, "val.pt"))
    lens = sorted(len(s) for s, _ in tr)
    print(f"vocab {tok.get_vocab_size()} train {len(tr)} val {len(va)} len median {lens[len(lens)//2]} max {lens[-1]}")

