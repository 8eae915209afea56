"""Add a PNDM (PLMS) reference run to diffusion/testdata/tiny_sd_reference.json.

Stable Diffusion 1.x exports name PNDMScheduler (skip_prk_steps true) in scheduler/scheduler_config.json, so
the Go pipeline's default scheduler for them is PNDM. This runs diffusers' own OnnxStableDiffusionPipeline
with that scheduler on the committed tiny random model (diffusion/testdata/tiny-sd, made by
export_tiny_sd.py) and the reference file's latents, and stores the image as one more run (replacing an
earlier "pndm" run). Run from the repository root: training/.venv/bin/python
training/diffusion/gen_tiny_sd_pndm_run.py
"""
import json

import numpy as np
from diffusers import OnnxRuntimeModel, OnnxStableDiffusionPipeline, PNDMScheduler
from transformers import CLIPTokenizer

MODEL = "diffusion/testdata/tiny-sd"
REF = "diffusion/testdata/tiny_sd_reference.json"


def main():
    ref = json.load(open(REF))
    latents = np.array(ref["latents"], dtype=np.float32).reshape(ref["latent_shape"])
    cfg = json.load(open(f"{MODEL}/scheduler/scheduler_config.json"))
    assert cfg["_class_name"] == "PNDMScheduler" and cfg["skip_prk_steps"]
    tok = CLIPTokenizer.from_pretrained(f"{MODEL}/tokenizer")
    load = lambda p: OnnxRuntimeModel(OnnxRuntimeModel.load_model(p, provider="CPUExecutionProvider"))
    pipe = OnnxStableDiffusionPipeline(
        vae_encoder=None, vae_decoder=load(f"{MODEL}/vae_decoder/model.onnx"),
        text_encoder=load(f"{MODEL}/text_encoder/model.onnx"), tokenizer=tok, unet=load(f"{MODEL}/unet/model.onnx"),
        scheduler=PNDMScheduler.from_config(cfg), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    runs = [r for r in ref["runs"] if r["scheduler"] != "pndm"]
    for steps, prompt, neg, guidance in [(7, "a person walking left to right at night", "", 7.5),
                                         (2, "a car entering the driveway", "", 1.0)]:
        img = pipe(prompt, height=64, width=64, num_inference_steps=steps, guidance_scale=guidance,
                   negative_prompt=neg or None, latents=latents.copy(), output_type="np").images[0]
        ids = tok(prompt, padding="max_length", max_length=77, truncation=True).input_ids
        runs.append({"scheduler": "pndm", "steps": steps, "prompt": prompt, "negative_prompt": neg,
                     "guidance_scale": guidance, "input_ids": ids,
                     "image_hwc": [round(float(v), 7) for v in img.reshape(-1)],
                     "height": int(img.shape[0]), "width": int(img.shape[1])})
        print("pndm", steps, "image mean", float(img.mean()), "std", float(img.std()))
    ref["runs"] = runs
    with open(REF, "w") as f:
        json.dump(ref, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
