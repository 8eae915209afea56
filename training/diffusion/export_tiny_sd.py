"""Export a TINY randomly initialised Stable Diffusion in the Hugging Face Optimum ONNX layout, plus the
diffusers reference outputs the Go pipeline test compares against.

Run from the repository root:  training/.venv/bin/python training/diffusion/export_tiny_sd.py
Writes diffusion/testdata/tiny-sd/ (model_index.json, text_encoder/, unet/, vae_decoder/, tokenizer/,
scheduler/), diffusion/testdata/tiny-sd-unet-float-timestep/unet/model.onnx (the same UNet taking a float32
scalar timestep) and diffusion/testdata/tiny_sd_reference.json.

The model is random (seeded): it exists to test the plumbing (tokenizer, text encoder, UNet loop with
classifier-free guidance, VAE decode) against diffusers' OnnxStableDiffusionPipeline on the very same ONNX
files and latents, not to draw anything. The CLIP BPE vocabulary is learned here from a few camera captions
(byte-level alphabet + 300 merges), in the vocab.json/merges.txt format of openai/clip-vit-large-patch14, so
transformers' CLIPTokenizer loads it unchanged.
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
from diffusers import (AutoencoderKL, DDIMScheduler, EulerDiscreteScheduler, OnnxRuntimeModel,
                       OnnxStableDiffusionPipeline, UNet2DConditionModel, UniPCMultistepScheduler)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from clip_bpe import learn_bpe

OUT = "diffusion/testdata/tiny-sd"
OUT_FLOAT = "diffusion/testdata/tiny-sd-unet-float-timestep"
REF = "diffusion/testdata/tiny_sd_reference.json"

CORPUS = """a person walking left to right at night
a car entering the driveway in the rain
two people loitering near the gate at dusk
a delivery van parked in front of the door
a cyclist riding north on the street
camera lens covered tamper alarm
a dog running across the parking lot
a truck turning left at the junction in fog
an empty street at dawn with snow
a crowd leaving the building through the main entrance
a motorcycle speeding past the camera at night
a person climbing over the fence
a package left on the porch
headlights moving from right to left
a man and a woman walking their dog in the park""".split("\n")


def write_tokenizer(path):
    os.makedirs(path, exist_ok=True)
    vocab, merges = learn_bpe(CORPUS, 300)
    with open(os.path.join(path, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(path, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>"}
    with open(os.path.join(path, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=1)
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump(dict(special, model_max_length=77, do_lower_case=True, tokenizer_class="CLIPTokenizer"), f, indent=1)
    return CLIPTokenizer.from_pretrained(path)


class UNetInt64(torch.nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep, encoder_hidden_states, return_dict=False)[0]


class UNetFloatScalar(UNetInt64):
    def forward(self, sample, timestep, encoder_hidden_states):
        return self.unet(sample, timestep.reshape(1), encoder_hidden_states, return_dict=False)[0]


class VAEDecoder(torch.nn.Module):
    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latent_sample):
        return self.vae.decode(latent_sample, return_dict=False)[0]


class TextEncoder(torch.nn.Module):
    def __init__(self, te):
        super().__init__()
        self.te = te

    def forward(self, input_ids):
        out = self.te(input_ids=input_ids.to(torch.int64), return_dict=True)
        return out.last_hidden_state, out.pooler_output


def export(module, args, path, input_names, output_names, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=17, dynamo=False)


def main():
    torch.manual_seed(0)
    shutil.rmtree(OUT, ignore_errors=True)
    shutil.rmtree(OUT_FLOAT, ignore_errors=True)
    tok = write_tokenizer(os.path.join(OUT, "tokenizer"))
    vocab_size = len(tok.get_vocab())

    te = CLIPTextModel(CLIPTextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=77,
                                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                      pad_token_id=tok.pad_token_id, attn_implementation="eager")).eval()
    unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(16, 32), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=4, norm_num_groups=8).eval()
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 16, 16),
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        layers_per_block=1, norm_num_groups=8, sample_size=64).eval()
    # Random weights give a near-constant image; widen the decoder's output so the comparison sees structure.
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(3.0)

    ids = torch.zeros((2, 77), dtype=torch.int32)
    export(TextEncoder(te), (ids,), f"{OUT}/text_encoder/model.onnx", ["input_ids"],
           ["last_hidden_state", "pooler_output"], {"input_ids": {0: "batch", 1: "sequence"},
                                                    "last_hidden_state": {0: "batch", 1: "sequence"},
                                                    "pooler_output": {0: "batch"}})
    sample = torch.randn(2, 4, 8, 8)
    hidden = torch.randn(2, 77, 32)
    export(UNetInt64(unet), (sample, torch.tensor([10, 10], dtype=torch.int64), hidden), f"{OUT}/unet/model.onnx",
           ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"},
            "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}})
    export(UNetFloatScalar(unet), (sample, torch.tensor(10.0), hidden), f"{OUT_FLOAT}/unet/model.onnx",
           ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
           {"sample": {0: "batch", 2: "height", 3: "width"}, "encoder_hidden_states": {0: "batch", 1: "sequence"},
            "out_sample": {0: "batch", 2: "height", 3: "width"}})
    export(VAEDecoder(vae), (torch.randn(1, 4, 8, 8),), f"{OUT}/vae_decoder/model.onnx", ["latent_sample"], ["sample"],
           {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    with open(f"{OUT}/vae_decoder/config.json", "w") as f:
        json.dump({"_class_name": "AutoencoderKL", "block_out_channels": [8, 8, 16, 16], "latent_channels": 4,
                   "scaling_factor": 0.18215, "sample_size": 64}, f, indent=1)
    with open(f"{OUT}/unet/config.json", "w") as f:
        json.dump({"_class_name": "UNet2DConditionModel", "sample_size": 8, "in_channels": 4,
                   "cross_attention_dim": 32}, f, indent=1)
    with open(f"{OUT}/text_encoder/config.json", "w") as f:
        json.dump({"architectures": ["CLIPTextModel"], "hidden_size": 32, "max_position_embeddings": 77}, f, indent=1)
    sched_cfg = {"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
                 "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "set_alpha_to_one": False,
                 "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None, "clip_sample": False}
    os.makedirs(f"{OUT}/scheduler", exist_ok=True)
    with open(f"{OUT}/scheduler/scheduler_config.json", "w") as f:
        json.dump(sched_cfg, f, indent=1)
    with open(f"{OUT}/model_index.json", "w") as f:
        json.dump({"_class_name": "OnnxStableDiffusionPipeline", "text_encoder": ["diffusers", "OnnxRuntimeModel"],
                   "unet": ["diffusers", "OnnxRuntimeModel"], "vae_decoder": ["diffusers", "OnnxRuntimeModel"],
                   "tokenizer": ["transformers", "CLIPTokenizer"],
                   "scheduler": ["diffusers", "PNDMScheduler"]}, f, indent=1)

    # Reference runs: the loop of diffusers' OnnxStableDiffusionPipeline (which breaks on schedulers whose
    # init_noise_sigma is a tensor), checked against that pipeline itself for DDIM.
    import onnxruntime as ort
    sess = lambda p: ort.InferenceSession(p, providers=["CPUExecutionProvider"])
    te_s, unet_s, vae_s = sess(f"{OUT}/text_encoder/model.onnx"), sess(f"{OUT}/unet/model.onnx"), \
        sess(f"{OUT}/vae_decoder/model.onnx")
    j = np.arange(4 * 8 * 8, dtype=np.float64)
    latents = (np.sin(0.9 * j + 0.4) * 1.3).astype(np.float32).reshape(1, 4, 8, 8)

    def encode(text):
        ids = tok(text, padding="max_length", max_length=77, truncation=True, return_tensors="np").input_ids
        return te_s.run(None, {"input_ids": ids.astype(np.int32)})[0]

    def reference(sched, prompt, neg, steps, guidance):
        cfg = guidance > 1.0
        emb = encode(prompt)
        if cfg:
            emb = np.concatenate([encode(neg or ""), emb])
        sched.set_timesteps(steps)
        lat = latents * np.float32(float(sched.init_noise_sigma))
        for t in sched.timesteps:
            inp = np.concatenate([lat] * 2) if cfg else lat
            inp = sched.scale_model_input(torch.from_numpy(inp), t).numpy()
            pred = unet_s.run(None, {"sample": inp, "timestep": np.array([t], dtype=np.int64),
                                     "encoder_hidden_states": emb})[0]
            if cfg:
                u, c = np.split(pred, 2)
                pred = u + guidance * (c - u)
            lat = sched.step(torch.from_numpy(pred), t, torch.from_numpy(lat)).prev_sample.numpy()
        img = vae_s.run(None, {"latent_sample": 1 / 0.18215 * lat})[0]
        return np.clip(img / 2 + 0.5, 0, 1).transpose((0, 2, 3, 1))[0]

    runs = []
    for name, cls, steps, prompt, neg, guidance in [
        ("ddim", DDIMScheduler, 6, "a person walking left to right at night", None, 7.5),
        ("euler", EulerDiscreteScheduler, 5, "a car entering the driveway in the rain", "fog", 5.0),
        ("unipc", UniPCMultistepScheduler, 4, "camera lens covered tamper alarm", None, 3.0),
        ("ddim", DDIMScheduler, 3, "a dog running across the parking lot", None, 1.0),  # no guidance
    ]:
        img = reference(cls.from_config(sched_cfg), prompt, neg, steps, guidance)
        if name == "ddim":
            load = lambda p: OnnxRuntimeModel(OnnxRuntimeModel.load_model(p, provider="CPUExecutionProvider"))
            pipe = OnnxStableDiffusionPipeline(
                vae_encoder=None, vae_decoder=load(f"{OUT}/vae_decoder/model.onnx"),
                text_encoder=load(f"{OUT}/text_encoder/model.onnx"), tokenizer=tok,
                unet=load(f"{OUT}/unet/model.onnx"), scheduler=cls.from_config(sched_cfg), safety_checker=None,
                feature_extractor=None, requires_safety_checker=False)
            want = pipe(prompt, height=64, width=64, num_inference_steps=steps, guidance_scale=guidance,
                        negative_prompt=neg, latents=latents.copy(), output_type="np").images[0]
            assert np.abs(want - img).max() < 1e-5, np.abs(want - img).max()
        ids = tok(prompt, padding="max_length", max_length=77, truncation=True).input_ids
        runs.append({"scheduler": name, "steps": steps, "prompt": prompt, "negative_prompt": neg or "",
                     "guidance_scale": guidance, "input_ids": ids,
                     "image_hwc": [round(float(v), 7) for v in img.reshape(-1)],
                     "height": int(img.shape[0]), "width": int(img.shape[1])})
        print(name, steps, "image mean", float(img.mean()), "std", float(img.std()),
              "clipped", float(((img == 0) | (img == 1)).mean()))

    tok_cases = []
    for s in CORPUS + ["A Person, WALKING!! left->right @ 23:59", "  multiple   spaces\tand\nnewlines ",
                       "unknown words: xylophone quizzical", "café déjà vu", "it's the car's door, we'll see",
                       "numbers 12345 and 3.14", "emoji 🚗 and 漢字", "", "<|endoftext|> inside",
                       " ".join(["walking"] * 90)]:
        tok_cases.append({"text": s, "ids": tok(s, padding="max_length", max_length=77, truncation=True).input_ids})
    with open(REF, "w") as f:
        json.dump({"generator": "training/diffusion/export_tiny_sd.py", "latents": [float(v) for v in latents.reshape(-1)],
                   "latent_shape": list(latents.shape), "runs": runs, "tokenizer": tok_cases}, f, separators=(",", ":"))
    for root, _, files in os.walk("diffusion/testdata"):
        for fn in files:
            if fn.endswith(".onnx"):
                print(os.path.join(root, fn), os.path.getsize(os.path.join(root, fn)))


if __name__ == "__main__":
    main()
