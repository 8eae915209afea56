"""Distils the caption draft from the target's full next-token distributions (forward KL on soft targets).

Speculative decoding accepts a draft token with probability min(1, p_target/p_draft): the closer the
draft's distribution is to the target's, the more tokens are accepted, at greedy decoding (argmax
agreement) and at sampled decoding (1 - total variation) alike. Training the draft on the corpus labels
alone makes it learn the corpus, not the target; here it is trained to minimise KL(p_target || p_draft)
at every caption position of corpus text, with the target's distributions computed on the fly.
Reads training/out/caption/target/model.pt; the draft starts from scratch (train's draft size) or,
with --init base, from the current draft checkpoint (copied to model_base.pt first). Writes the
distilled draft to training/out/caption/draft/model.pt. CPU is enough (run it with `nice`; one thread,
bfloat16 autocast; about 0.35 s per step of 32 sequences on one Zen 4 core):

  training/.venv/bin/python -m training.caption distill
  training/.venv/bin/python -m training.caption export --model draft
"""
import argparse
import json
import math
import os
import random
import shutil
import time
from collections import defaultdict
from dataclasses import asdict

import torch
from torch.nn import functional as F

from training.caption.gpt2 import GPT2, Config
from training.caption.train import SIZES, batches, collate, evaluate
from training.common.cli import command_line


def load(path):
    ck = torch.load(path)
    m = GPT2(Config(**ck["config"]))
    m.load_state_dict({k: v.float() for k, v in ck["state_dict"].items()})
    return m.eval(), ck


@torch.no_grad()
def greedy_captions(model, prompts, eos, max_new=64, batch=128):
    """Target greedy continuations, batched over prompts of equal length (no padding needed)."""
    by_len = defaultdict(list)
    for i, p in enumerate(prompts):
        by_len[len(p)].append(i)
    out = [None] * len(prompts)
    for n, idx in by_len.items():
        for s in range(0, len(idx), batch):
            part = idx[s:s + batch]
            ids = torch.tensor([prompts[i] for i in part])
            logits, past = model(ids)
            done = torch.zeros(len(part), dtype=torch.bool)
            gen = []
            for step in range(max_new):
                nxt = logits[:, -1].argmax(-1)
                nxt = torch.where(done, torch.full_like(nxt, eos), nxt)
                gen.append(nxt)
                done |= nxt == eos
                if done.all():
                    break
                logits, past = model(nxt[:, None], past=past)
            g = torch.stack(gen, 1).tolist()
            for j, i in enumerate(part):
                seq = g[j]
                out[i] = seq[:seq.index(eos) + 1] if eos in seq else seq
    return out


@torch.no_grad()
def agreement(draft, target, seqs, eos, temperature=0.7):
    """Over the caption positions of held-out corpus text: how often the draft's argmax equals the
    target's, and the mean of sum_v min(p_target, p_draft) at the given temperature (the expected
    acceptance of one draft token in speculative sampling)."""
    same = tot = 0
    overlap = 0.0
    for i in range(0, len(seqs), 128):
        ids, labels = collate(seqs[i:i + 128], eos)
        m = labels != -100
        lt, _ = target(ids)
        ld, _ = draft(ids)
        lt, ld = lt[m], ld[m]
        same += (lt.argmax(-1) == ld.argmax(-1)).sum().item()
        pt = F.softmax(lt / temperature, -1)
        pd = F.softmax(ld / temperature, -1)
        overlap += torch.minimum(pt, pd).sum(-1).sum().item()
        tot += m.sum().item()
    return {"argmax_agreement": same / tot, f"overlap_t{temperature}": overlap / tot}


@torch.no_grad()
def greedy_agreement(draft, target, seqs, eos, n=500):
    """Token-level greedy acceptance: the draft's argmax along the target's own greedy captions."""
    vp = [s[:plen] for s, plen in seqs[:n]]
    vcaps = greedy_captions(target, vp, eos)
    agree = total = 0
    for p, c in zip(vp, vcaps):
        lg, _ = draft(torch.tensor([p + c[:-1]]))
        pred = lg[0, len(p) - 1:].argmax(-1).tolist()
        agree += sum(int(x == y) for x, y in zip(pred, c))
        total += len(c)
    return agree / total


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default="training/out/caption")
    ap.add_argument("--data", default="training/data/caption")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--init", choices=["scratch", "base"], default="scratch")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    train = torch.load(os.path.join(a.data, "train.pt"))
    val = torch.load(os.path.join(a.data, "val.pt"))
    eos = train["eos"]
    target, _ = load(os.path.join(a.ckpt, "target", "model.pt"))
    draft_path = os.path.join(a.ckpt, "draft", "model.pt")
    if a.init == "base":
        # Continue from the current draft; keep a copy of it.
        base_path = os.path.join(a.ckpt, "draft", "model_base.pt")
        shutil.copy(draft_path, base_path)
        draft, ck = load(base_path)
    else:
        cfg = Config(vocab_size=train["vocab"], n_positions=target.cfg.n_positions, **SIZES["draft"])
        draft = GPT2(cfg).eval()
        ck = {"config": asdict(cfg), "eval": {"device": "cpu", "threads": a.threads, "init": "scratch"},
              "command": command_line("python")}
        os.makedirs(os.path.dirname(draft_path), exist_ok=True)
    t0 = time.time()
    before = None
    if a.init == "base":
        before = agreement(draft, target, val["seqs"][:1000], eos)
        before["greedy_agreement"] = greedy_agreement(draft, target, val["seqs"], eos)
        print("before", json.dumps(before), f"{time.time() - t0:.0f}s", flush=True)
    draft.train()
    opt = torch.optim.AdamW(draft.parameters(), lr=a.lr, weight_decay=0.01, betas=(0.9, 0.95))
    it = batches(train["seqs"], a.batch, eos, rng)
    for step in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / a.steps))
        ids, labels = next(it)
        m = labels != -100
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            lt, _ = target(ids)
        logp_t = F.log_softmax(lt.float()[m], -1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            ld, _ = draft(ids)
        logp_d = F.log_softmax(ld.float()[m], -1)
        # Forward KL(p_target || p_draft), averaged over caption positions.
        loss = F.kl_div(logp_d, logp_t, log_target=True, reduction="batchmean")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(draft.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == a.steps - 1:
            print(f"distill step {step} kl {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    draft.eval()
    after = agreement(draft, target, val["seqs"][:1000], eos)
    after["greedy_agreement"] = greedy_agreement(draft, target, val["seqs"], eos)
    ev = evaluate(draft, val["seqs"], eos, "cpu")
    ev.update(target_agreement=after, target_agreement_before=before, distill_steps=a.steps,
              distill_batch=a.batch, distill_seconds=round(time.time() - t0, 1), base_eval=ck["eval"])
    print(json.dumps(ev))
    state = {k: v.detach().cpu().half() for k, v in draft.state_dict().items()}
    torch.save({"config": ck["config"], "state_dict": state, "eval": ev,
                "command": (ck["command"] if a.init == "scratch" else
                            ck.get("command", "") + "; then " + command_line("python"))},
               draft_path)

