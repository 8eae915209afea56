"""Generate scheduler fixtures for the Go package diffusion from diffusers.

Run from the repository root:  training/.venv/bin/python training/diffusion/gen_scheduler_fixtures.py
Writes diffusion/testdata/schedulers.json.

For every case (a scheduler class + a scheduler_config.json) and step count it records the timesteps, sigmas and
init_noise_sigma after set_timesteps(n), and the prev_sample of every step of a run. The run uses a fake model
whose output is a fixed function of the scaled input and the step index (0.6*scaled + 0.4*pattern(i)), so Go can
recompute the model output from its own scale_model_input; stochastic schedulers get deterministic "noise"
(noise(i)) injected in place of torch's RNG. Samples are float64 tensors; diffusers still keeps its schedule
tables (betas, alphas_cumprod, sigmas) in float32 and Euler/Euler Ancestral/DPM++ cast the sample to float32
inside step().
"""
import json
import math
import os
import sys

import numpy as np
import torch
import diffusers
from diffusers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, HeunDiscreteScheduler, KDPM2DiscreteScheduler,
                       PNDMScheduler, UniPCMultistepScheduler)
import diffusers.schedulers.scheduling_euler_ancestral_discrete as ea_mod

SHAPE = (1, 4, 4, 4)
SIZE = int(np.prod(SHAPE))

CLASSES = {
    "ddim": DDIMScheduler,
    "euler": EulerDiscreteScheduler,
    "euler_a": EulerAncestralDiscreteScheduler,
    "heun": HeunDiscreteScheduler,
    "dpm2": KDPM2DiscreteScheduler,
    "dpm2_karras": KDPM2DiscreteScheduler,
    "unipc": UniPCMultistepScheduler,
    "dpmpp_2m": DPMSolverMultistepScheduler,
    "pndm": PNDMScheduler,
}

# Stable Diffusion 1.5's scheduler/scheduler_config.json (a PNDMScheduler config other classes load from).
SD15 = {
    "_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
    "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
    "clip_sample": False,
}
# Stable Diffusion 2.x (768, v-prediction).
SD2V = dict(SD15, _class_name="DDIMScheduler", prediction_type="v_prediction")


def pattern(i):
    j = np.arange(SIZE, dtype=np.float64)
    return np.sin(1.3 * j + 0.7 * i + 0.1)


def noise(i):
    j = np.arange(SIZE, dtype=np.float64)
    return 1.2 * np.sin(2.1 * j + 1.7 * i + 0.3)


def init_sample():
    j = np.arange(SIZE, dtype=np.float64)
    return np.cos(0.37 * j + 0.2) * 1.1


def t64(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float64).reshape(SHAPE).copy())


def r12(v):
    """Rounds to 12 significant digits: far below the 1e-5 the Go tests check, a third smaller on disk."""
    return float("%.12g" % v)


def flat(t):
    return [r12(v) for v in t.detach().to(torch.float64).reshape(-1).numpy()]


def run_case(case):
    cls = CLASSES[case["scheduler"]]
    cfg = dict(case["config"])
    out = {"name": case["name"], "scheduler": case["scheduler"], "config": cfg,
           "eta": case.get("eta", 0.0), "steps": []}
    for n in case["steps"]:
        sched = cls.from_config(cfg)
        sched.set_timesteps(n)
        rec = {"n": n,
               "timesteps": [r12(v) for v in sched.timesteps.to(torch.float64).numpy()],
               "init_noise_sigma": float(sched.init_noise_sigma)}
        if not isinstance(sched, (DDIMScheduler, PNDMScheduler)):
            rec["sigmas"] = [r12(v) for v in sched.sigmas.to(torch.float64).numpy()]
        if n in case.get("runs", []):
            # float32-representable start: Euler-type steps cast the sample to float32 first, and a start of
            # magnitude ~150 (linear betas) would otherwise lose ~1e-5 before any scheduler arithmetic.
            x = (t64(init_sample()) * float(sched.init_noise_sigma)).to(torch.float32).to(torch.float64)
            rec["x_init"] = flat(x)
            outs = []
            for i, t in enumerate(sched.timesteps):
                scaled = sched.scale_model_input(x, t)
                mo = 0.6 * scaled + 0.4 * t64(pattern(i))
                kw = {}
                if isinstance(sched, DDIMScheduler) and case.get("eta", 0.0) > 0:
                    kw = {"eta": case["eta"], "variance_noise": t64(noise(i))}
                if isinstance(sched, EulerAncestralDiscreteScheduler):
                    ea_mod.randn_tensor = lambda shape, _i=i, **k: t64(noise(_i))
                x = sched.step(mo, t, x, **kw).prev_sample.to(torch.float64)
                outs.append(flat(x))
            rec["outputs"] = outs
        out["steps"].append(rec)
    return out


def cases():
    cs = []
    all_names = ["ddim", "euler", "euler_a", "heun", "dpm2", "unipc", "dpmpp_2m"]
    steps = [1, 2, 3, 5, 10, 16, 25, 50]
    runs = [3, 10, 16]
    for s in all_names:
        cs.append({"name": f"{s}/sd15", "scheduler": s, "config": SD15, "steps": steps, "runs": runs})
        cs.append({"name": f"{s}/sd2-v", "scheduler": s, "config": SD2V, "steps": steps, "runs": [10]})
        cs.append({"name": f"{s}/sd15-trailing", "scheduler": s, "config": dict(SD15, timestep_spacing="trailing"),
                   "steps": steps, "runs": [10]})
        cs.append({"name": f"{s}/sd15-linspace", "scheduler": s, "config": dict(SD15, timestep_spacing="linspace"),
                   "steps": steps, "runs": [5]})
        cs.append({"name": f"{s}/defaults", "scheduler": s, "config": {}, "steps": steps, "runs": [5]})
        cs.append({"name": f"{s}/cosine", "scheduler": s,
                   "config": {"beta_schedule": "squaredcos_cap_v2", "timestep_spacing": "leading", "steps_offset": 1},
                   "steps": steps, "runs": [5]})
    for s in ["euler", "heun", "dpm2_karras", "unipc", "dpmpp_2m"]:
        cfg = dict(SD15, use_karras_sigmas=True)
        cs.append({"name": f"{s}/sd15-karras", "scheduler": s, "config": cfg, "steps": steps, "runs": [3, 10, 16]})
        cs.append({"name": f"{s}/sd2-v-karras", "scheduler": s, "config": dict(SD2V, use_karras_sigmas=True),
                   "steps": steps, "runs": [10]})
    for s in ["ddim", "heun", "unipc", "dpmpp_2m"]:
        cs.append({"name": f"{s}/sample-pred", "scheduler": s, "config": dict(SD15, prediction_type="sample"),
                   "steps": steps, "runs": [10]})
    cs.append({"name": "ddim/eta1", "scheduler": "ddim", "config": SD15, "eta": 1.0, "steps": [10], "runs": [10]})
    cs.append({"name": "ddim/clip", "scheduler": "ddim", "config": dict(SD15, clip_sample=True, set_alpha_to_one=True,
               clip_sample_range=0.5), "steps": [10], "runs": [10]})
    cs.append({"name": "heun/clip", "scheduler": "heun", "config": dict(SD15, clip_sample=True), "steps": [10], "runs": [10]})
    cs.append({"name": "unipc/order3-bh1", "scheduler": "unipc", "config": dict(SD15, solver_order=3, solver_type="bh1", final_sigmas_type="sigma_min"),
               "steps": steps, "runs": [3, 10, 16]})
    cs.append({"name": "unipc/order3-karras", "scheduler": "unipc",
               "config": dict(SD15, solver_order=3, use_karras_sigmas=True), "steps": steps, "runs": [10, 16]})
    cs.append({"name": "unipc/eps-space", "scheduler": "unipc", "config": dict(SD15, predict_x0=False, final_sigmas_type="sigma_min"),
               "steps": steps, "runs": [10]})
    cs.append({"name": "unipc/no-lower-final-corrector-off", "scheduler": "unipc",
               "config": dict(SD15, lower_order_final=False, disable_corrector=[0, 2], final_sigmas_type="sigma_min"), "steps": [10], "runs": [10]})
    cs.append({"name": "dpmpp_2m/heun-solver", "scheduler": "dpmpp_2m", "config": dict(SD15, solver_type="heun"),
               "steps": steps, "runs": [10, 16]})
    cs.append({"name": "dpmpp_2m/sigma-min-final", "scheduler": "dpmpp_2m",
               "config": dict(SD15, final_sigmas_type="sigma_min", euler_at_final=True), "steps": steps, "runs": [10, 16]})
    cs.append({"name": "dpmpp_2m/lambda-clipped", "scheduler": "dpmpp_2m",
               "config": dict(SD15, lambda_min_clipped=-5.1), "steps": steps, "runs": [10]})
    cs.append({"name": "euler/sigma-min-final", "scheduler": "euler", "config": dict(SD15, final_sigmas_type="sigma_min"),
               "steps": steps, "runs": [10]})
    cs.append({"name": "euler/karras-sigma-range", "scheduler": "euler",
               "config": dict(SD15, use_karras_sigmas=True, sigma_min=0.1, sigma_max=10.0), "steps": steps, "runs": [10]})
    # PNDM as Stable Diffusion uses it (skip_prk_steps: PLMS only); the defaults case needs the flag too.
    plms = {"skip_prk_steps": True}
    for name, cfg, runs in [("sd15", SD15, [1, 2, 3, 10, 16]), ("sd2-v", SD2V, [10]),
                            ("sd15-trailing", dict(SD15, timestep_spacing="trailing"), [10]),
                            ("sd15-linspace", dict(SD15, timestep_spacing="linspace"), [5]),
                            ("defaults", plms, [5]), ("alpha-one", dict(SD15, set_alpha_to_one=True), [10]),
                            ("cosine", dict(plms, beta_schedule="squaredcos_cap_v2", steps_offset=1), [5])]:
        cs.append({"name": f"pndm/{name}", "scheduler": "pndm", "config": dict(cfg, _class_name="PNDMScheduler"),
                   "steps": [1, 2, 3, 5, 10, 16, 25, 50], "runs": runs})
    return cs


def schedule_tables():
    out = {}
    for name, cfg in {"linear": {}, "scaled_linear": SD15, "squaredcos_cap_v2": {"beta_schedule": "squaredcos_cap_v2"}}.items():
        s = DDIMScheduler.from_config(cfg)
        out[name] = {"config": cfg, "alphas_cumprod": [r12(v) for v in s.alphas_cumprod.to(torch.float64).numpy()]}
    return out


def main():
    doc = {"generator": "training/diffusion/gen_scheduler_fixtures.py",
           "diffusers": diffusers.__version__, "torch": torch.__version__,
           "shape": list(SHAPE), "tables": schedule_tables(), "cases": [run_case(c) for c in cases()]}
    path = sys.argv[1] if len(sys.argv) > 1 else "diffusion/testdata/schedulers.json"
    for c in doc["cases"]:
        for st in c["steps"]:
            for o in st.get("outputs", []):
                assert all(math.isfinite(v) for v in o), (c["name"], st["n"])
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(path, os.path.getsize(path), "bytes,", len(doc["cases"]), "cases")


if __name__ == "__main__":
    main()
