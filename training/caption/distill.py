"""Fine-tunes the caption draft towards the target (sequence-level distillation).

Speculative decoding accepts a greedy draft token only when it equals the target's argmax. Where the
corpus offers several equally likely phrasings, two independently trained models pick different
argmaxes, so the draft is fine-tuned on a mix of the original captions and the target's own greedy
captions for training prompts. Reads training/out/caption/{target,draft}/model.pt, writes the draft
checkpoint back (the previous one is kept as model_base.pt). CPU is enough (run it with `nice`):

  training/.venv/bin/python training/caption/distill.py
  training/.venv/bin/python training/caption/export.py --model draft
"""
import argparse
import json
import os
import random
import shutil
import sys
import time
from collections import defaultdict

import torch
from torch.nn import functional as F

sys.path.insert(0, os.path.dirname(__file__))
from gpt2 import GPT2, Config  # noqa: E402
from train import batches, evaluate  # noqa: E402


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="training/out/caption")
    ap.add_argument("--data", default="training/data/caption")
    ap.add_argument("--prompts", type=int, default=6000)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    train = torch.load(os.path.join(a.data, "train.pt"))
    val = torch.load(os.path.join(a.data, "val.pt"))
    eos = train["eos"]
    target, _ = load(os.path.join(a.ckpt, "target", "model.pt"))
    draft_path = os.path.join(a.ckpt, "draft", "model.pt")
    base_path = os.path.join(a.ckpt, "draft", "model_base.pt")
    if not os.path.exists(base_path):
        shutil.copy(draft_path, base_path)
    draft, ck = load(base_path)
    t0 = time.time()
    sample = rng.sample(train["seqs"], a.prompts)
    prompts = [s[:plen] for s, plen in sample]
    caps = greedy_captions(target, prompts, eos)
    distilled = [(p + c, len(p)) for p, c in zip(prompts, caps)]
    print(f"{len(distilled)} target greedy captions in {time.time() - t0:.0f}s", flush=True)
    # Half the batches from the target's greedy captions, half from the corpus.
    mix = distilled + rng.sample(train["seqs"], len(distilled))
    draft.train()
    opt = torch.optim.AdamW(draft.parameters(), lr=a.lr, weight_decay=0.01, betas=(0.9, 0.95))
    it = batches(mix, a.batch, eos, rng)
    for step in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = a.lr * (1 - step / a.steps)
        ids, labels = next(it)
        logits, _ = draft(ids)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(draft.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == a.steps - 1:
            print(f"distill step {step} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
    draft.eval()
    # Greedy agreement with the target on held-out prompts: the token-level acceptance under greedy.
    vp = [s[:plen] for s, plen in val["seqs"][:500]]
    vcaps = greedy_captions(target, vp, eos)
    agree = total = 0
    with torch.no_grad():
        for p, c in zip(vp, vcaps):
            lg, _ = draft(torch.tensor([p + c[:-1]]))
            pred = lg[0, len(p) - 1:].argmax(-1).tolist()
            agree += sum(int(x == y) for x, y in zip(pred, c))
            total += len(c)
    ev = evaluate(draft, val["seqs"], eos, "cpu")
    ev.update(greedy_agreement_with_target=agree / total, distill_steps=a.steps, distill_prompts=a.prompts,
              distill_seconds=round(time.time() - t0, 1), base_eval=ck["eval"])
    print(json.dumps(ev))
    state = {k: v.detach().cpu().half() for k, v in draft.state_dict().items()}
    torch.save({"config": ck["config"], "state_dict": state, "eval": ev,
                "command": ck.get("command", "") + "; then python training/caption/distill.py " + " ".join(sys.argv[1:])},
               draft_path)


if __name__ == "__main__":
    main()
