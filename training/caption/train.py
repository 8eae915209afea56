"""Trains one caption model (draft or target) on the corpus that build-data wrote.

  training/.venv/bin/python -m training.caption train --model draft
  training/.venv/bin/python -m training.caption train --model target
Writes training/out/caption/<model>/model.pt (config, weights, eval numbers). Uses CUDA when present,
else the CPU (run it with `nice`; one thread by default, bfloat16 autocast, about 0.8 s per target step of
32 sequences on one Zen 4 core). The shipped draft is then distilled from the target (distill).
export turns the checkpoints into the committed ONNX files.
"""
import argparse
import json
import math
import os
import random
import time
from dataclasses import asdict

import torch
from torch.nn import functional as F

from training.caption.gpt2 import GPT2, Config
from training.common.cli import command_line

SIZES = {
    "draft": dict(n_layer=2, n_embd=128, n_head=4),
    "target": dict(n_layer=6, n_embd=320, n_head=5),
}


def batches(seqs, batch, pad, rng):
    idx = list(range(len(seqs)))
    while True:
        rng.shuffle(idx)
        for i in range(0, len(idx) - batch + 1, batch):
            yield collate([seqs[j] for j in idx[i:i + batch]], pad)


def collate(items, pad):
    n = max(len(s) for s, _ in items)
    ids = torch.full((len(items), n), pad, dtype=torch.long)
    labels = torch.full((len(items), n), -100, dtype=torch.long)
    for r, (s, plen) in enumerate(items):
        ids[r, :len(s)] = torch.tensor(s)
        # Learn only the caption: positions that predict tokens after the prompt.
        labels[r, plen - 1:len(s) - 1] = torch.tensor(s[plen:])
    return ids, labels


def evaluate(model, seqs, pad, device):
    model.eval()
    tot, n, correct = 0.0, 0, 0
    with torch.no_grad():
        for i in range(0, len(seqs), 128):
            ids, labels = collate(seqs[i:i + 128], pad)
            ids, labels = ids.to(device), labels.to(device)
            logits, _ = model(ids)
            m = labels != -100
            tot += F.cross_entropy(logits[m], labels[m], reduction="sum").item()
            correct += (logits[m].argmax(-1) == labels[m]).sum().item()
            n += m.sum().item()
    model.train()
    return {"val_loss": tot / n, "val_token_accuracy": correct / n, "val_tokens": n}


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(SIZES), required=True)
    ap.add_argument("--data", default="training/data/caption")
    ap.add_argument("--out", default="training/out/caption")
    ap.add_argument("--steps", type=int, default=0, help="default: draft 1500, target 1000")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads")
    ap.add_argument("--fp32", action="store_true", help="no bfloat16 autocast")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    steps = a.steps or {"draft": 1500, "target": 1000}[a.model]
    lr = a.lr or {"draft": 2e-3, "target": 1e-3}[a.model]
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    train = torch.load(os.path.join(a.data, "train.pt"))
    val = torch.load(os.path.join(a.data, "val.pt"))
    cfg = Config(vocab_size=train["vocab"], n_positions=128, **SIZES[a.model])
    model = GPT2(cfg).to(a.device)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    pad = train["eos"]
    it = batches(train["seqs"], a.batch, pad, rng)
    t0 = time.time()
    for step in range(steps):
        cur = lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for g in opt.param_groups:
            g["lr"] = cur
        ids, labels = next(it)
        ids, labels = ids.to(a.device), labels.to(a.device)
        with torch.autocast(a.device.split(":")[0], dtype=torch.bfloat16, enabled=not a.fp32):
            logits, _ = model(ids)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"{a.model} step {step} loss {loss.item():.4f} lr {cur:.2e} {time.time() - t0:.0f}s", flush=True)
    ev = evaluate(model, val["seqs"], pad, a.device)
    ev.update(train_seconds=round(time.time() - t0, 1), steps=steps, batch=a.batch, params=n_params,
              device=a.device, threads=a.threads, bf16_autocast=not a.fp32)
    print(json.dumps(ev))
    os.makedirs(os.path.join(a.out, a.model), exist_ok=True)
    # Weights are stored (and shipped in the ONNX files) as float16, computed in float32.
    state = {k: v.detach().cpu().half() for k, v in model.state_dict().items()}
    torch.save({"config": asdict(cfg), "state_dict": state, "eval": ev,
                "command": command_line("python")}, os.path.join(a.out, a.model, "model.pt"))

