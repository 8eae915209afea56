"""Exports a trained caption model to ONNX in the Hugging Face Optimum decoder-with-past layout.

  training/.venv/bin/python -m training.caption export --model draft
  training/.venv/bin/python -m training.caption export --model target
Reads training/out/caption/<model>/model.pt, checks the weights give the same logits in transformers'
GPT2LMHeadModel, exports models/caption/<model>/model.onnx (inputs input_ids, attention_mask,
position_ids, past_key_values.N.key/value; outputs logits, present.N.key/value), stores weights as
float16 with Cast nodes (ONNX Runtime folds them to float32 at load), verifies ONNX Runtime against
PyTorch with and without a cache, and writes tokenizer.json and manifest.json beside it.
"""
import argparse
import json
import os
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

from training.caption import corpus
from training.caption.gpt2 import GPT2, Config, OptimumWrapper


def check_transformers(model, cfg, ids):
    from transformers import GPT2Config, GPT2LMHeadModel
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=cfg.vocab_size, n_positions=cfg.n_positions, n_embd=cfg.n_embd,
                                    n_layer=cfg.n_layer, n_head=cfg.n_head, activation_function="gelu_new",
                                    resid_pdrop=0, embd_pdrop=0, attn_pdrop=0, bos_token_id=0, eos_token_id=0,
                                    tie_word_embeddings=True)).eval()
    missing, unexpected = hf.load_state_dict(model.state_dict(), strict=False)
    missing = [k for k in missing if not k.endswith("attn.bias") and not k.endswith("masked_bias")]
    assert not missing and not unexpected, (missing, unexpected)
    with torch.no_grad():
        a = hf(ids).logits
        b, _ = model(ids)
    diff = (a - b).abs().max().item()
    assert diff < 1e-3, f"transformers GPT2LMHeadModel differs by {diff}"
    return diff


def to_fp16_storage(path):
    m = onnx.load(path)
    g = m.graph
    new_inits, casts = [], []
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and np.prod(init.dims) >= 1024:
            arr = numpy_helper.to_array(init).astype(np.float16)
            h = numpy_helper.from_array(arr, init.name + "_fp16")
            new_inits.append(h)
            casts.append(helper.make_node("Cast", [h.name], [init.name], to=TensorProto.FLOAT))
        else:
            new_inits.append(init)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def on_device(ev):
    """Where the model was trained, for the manifest's training command."""
    base = ev
    while "device" not in base and "base_eval" in base:  # distilled drafts: the first run's numbers
        base = base["base_eval"]
    dev = "CPU" if base.get("device") == "cpu" else base.get("device", "?")
    return f" (on {dev}, {base.get('threads', '?')} thread, bfloat16 autocast)" if dev == "CPU" else f" (on {dev})"


def ort_run(sess, cfg, ids, past):
    hd = cfg.n_embd // cfg.n_head
    p = 0 if past is None else past[0].shape[2]
    feeds = {"input_ids": ids, "attention_mask": np.ones((1, p + ids.shape[1]), np.int64),
             "position_ids": np.arange(p, p + ids.shape[1], dtype=np.int64)[None]}
    for i in range(cfg.n_layer):
        feeds[f"past_key_values.{i}.key"] = np.zeros((1, cfg.n_head, 0, hd), np.float32) if past is None else past[2 * i]
        feeds[f"past_key_values.{i}.value"] = np.zeros((1, cfg.n_head, 0, hd), np.float32) if past is None else past[2 * i + 1]
    out = sess.run(None, feeds)
    return out[0], out[1:]


def export_onnx(model, cfg, path):
    """Exports model (float32) to path in the Optimum decoder-with-past layout, dynamic batch and lengths."""
    hd = cfg.n_embd // cfg.n_head
    names_in = ["input_ids", "attention_mask", "position_ids"]
    names_out = ["logits"]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    past = []
    for i in range(cfg.n_layer):
        for kv in ("key", "value"):
            names_in.append(f"past_key_values.{i}.{kv}")
            names_out.append(f"present.{i}.{kv}")
            axes[names_in[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            axes[names_out[-1]] = {0: "batch_size", 2: "total_sequence_length"}
            past.append(torch.randn(1, cfg.n_head, 3, hd))
    ex = (torch.tensor([[5, 6]]), torch.ones(1, 5, dtype=torch.long), torch.tensor([[3, 4]]), *past)
    torch.onnx.export(OptimumWrapper(model), ex, path, input_names=names_in, output_names=names_out,
                      dynamic_axes=axes, opset_version=17, dynamo=False)


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["draft", "target"], required=True)
    ap.add_argument("--ckpt", default="training/out/caption")
    ap.add_argument("--data", default="training/data/caption")
    ap.add_argument("--tokenizer", default="models/caption/tokenizer.json")
    ap.add_argument("--out", default="models/caption")
    a = ap.parse_args(argv)
    ck = torch.load(os.path.join(a.ckpt, a.model, "model.pt"))
    cfg = Config(**ck["config"])
    model = GPT2(cfg)
    model.load_state_dict({k: v.float() for k, v in ck["state_dict"].items()})
    model.eval()
    val = torch.load(os.path.join(a.data, "val.pt"))
    seq = torch.tensor(val["seqs"][0][0])[None]
    hf_diff = check_transformers(model, cfg, seq)

    out_dir = os.path.join(a.out, a.model)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    hd = cfg.n_embd // cfg.n_head
    export_onnx(model, cfg, path)
    to_fp16_storage(path)

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = seq.numpy().astype(np.int64)
    with torch.no_grad():
        ref, _ = model(seq)
    ref = ref.numpy()
    full, _ = ort_run(sess, cfg, ids, None)
    d_full = float(np.abs(full - ref).max())
    # Prompt in one step, then the rest one token (and then three tokens) at a time through the cache.
    n0 = 10
    lg, past_np = ort_run(sess, cfg, ids[:, :n0], None)
    steps = [lg]
    pos = n0
    while pos < ids.shape[1]:
        n = 1 if pos < n0 + 8 else 3
        lg, past_np = ort_run(sess, cfg, ids[:, pos:pos + n], past_np)
        steps.append(lg)
        pos += n
    inc = np.concatenate(steps, axis=1)
    d_inc = float(np.abs(inc - ref).max())
    assert d_full < 1e-3 and d_inc < 1e-3, (d_full, d_inc)
    print(f"{a.model}: max |logit diff| transformers {hf_diff:.2e}, onnx full {d_full:.2e}, onnx cached {d_inc:.2e}")

    shutil.copy(a.tokenizer, os.path.join(out_dir, "tokenizer.json"))
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(a.tokenizer)
    manifest = {
        "name": f"caption-{a.model}",
        "architecture": "gpt2",
        "layout": "optimum-decoder-with-past",
        "file": "model.onnx",
        "tokenizer": "tokenizer.json",
        "vocab_size": cfg.vocab_size,
        "n_positions": cfg.n_positions,
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "n_embd": cfg.n_embd,
        "head_dim": hd,
        "params": sum(p.numel() for p in model.parameters()),
        "eos_token": corpus.END,
        "eos_token_id": tok.token_to_id(corpus.END),
        "weights_storage": "float16 initializers cast to float32 at load",
        "prompt_format": corpus.prompt({"camera": "{camera}", "zone": "{zone}", "label": "{label}",
                                        "direction": "{direction}", "duration_s": "{duration_s}",
                                        "time": "{time}", "confidence": 0.0}).replace("0.00", "{confidence:.2f}"),
        "caption_prefix": " ",
        "event_labels": corpus.LABELS,
        "training_command": ck.get("command", "") + on_device(ck["eval"]),
        "data_command": "python -m training.caption build-data",
        "export_command": f"python -m training.caption export --model {a.model}",
        "eval": ck["eval"],
        "export_check": {"max_abs_logit_diff_transformers": hf_diff, "max_abs_logit_diff_onnx_full": d_full,
                         "max_abs_logit_diff_onnx_cached": d_inc},
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")

