"""Writes llmgen/testdata/optimum_variant/: the caption draft re-shaped like other Optimum GPT-2 exports.

The file is named decoder_model_merged.onnx, takes a `use_cache_branch` bool input (as Optimum's merged
decoders do), has no `position_ids` input (positions are computed inside from the cache length, as in
older exports), and comes with a Hugging Face style config.json instead of manifest.json. llmgen's tests
check that it loads and decodes exactly like models/caption/draft.

  training/.venv/bin/python training/caption/make_optimum_variant.py
"""
import json
import os
import shutil

import onnx
from onnx import TensorProto, helper

SRC = "models/caption/draft"
DST = "llmgen/testdata/optimum_variant"

m = onnx.load(os.path.join(SRC, "model.onnx"))
g = m.graph
# Replace the position_ids input by Unsqueeze(Range(past, past + seq), 0).
pos = [i for i in g.input if i.name == "position_ids"][0]
g.input.remove(pos)
nodes = [
    helper.make_node("Shape", ["past_key_values.0.key"], ["pv_shape"]),
    helper.make_node("Gather", ["pv_shape", "pv_idx2"], ["pv_len"], axis=0),
    helper.make_node("Shape", ["input_ids"], ["ids_shape"]),
    helper.make_node("Gather", ["ids_shape", "pv_idx1"], ["seq_len"], axis=0),
    helper.make_node("Add", ["pv_len", "seq_len"], ["pv_end"]),
    helper.make_node("Range", ["pv_len", "pv_end", "pv_one"], ["pv_range"]),
    helper.make_node("Unsqueeze", ["pv_range", "pv_axes"], ["position_ids"]),
]
g.initializer.extend([
    helper.make_tensor("pv_idx2", TensorProto.INT64, [], [2]),
    helper.make_tensor("pv_idx1", TensorProto.INT64, [], [1]),
    helper.make_tensor("pv_one", TensorProto.INT64, [], [1]),
    helper.make_tensor("pv_axes", TensorProto.INT64, [1], [0]),
])
old = list(g.node)
del g.node[:]
g.node.extend(nodes + old)
# An unused use_cache_branch input, as Optimum's merged decoders have.
g.input.append(helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]))
onnx.checker.check_model(m)
os.makedirs(DST, exist_ok=True)
onnx.save(m, os.path.join(DST, "decoder_model_merged.onnx"))
shutil.copy(os.path.join(SRC, "tokenizer.json"), os.path.join(DST, "tokenizer.json"))
man = json.load(open(os.path.join(SRC, "manifest.json")))
with open(os.path.join(DST, "config.json"), "w") as f:
    json.dump({"model_type": "gpt2", "n_positions": man["n_positions"], "n_layer": man["n_layer"],
               "n_head": man["n_head"], "n_embd": man["n_embd"], "vocab_size": man["vocab_size"],
               "eos_token_id": man["eos_token_id"], "bos_token_id": man["eos_token_id"]}, f, indent=2)
    f.write("\n")
print("wrote", DST)
