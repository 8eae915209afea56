import json

import numpy as np
import onnxruntime as ort
import torch
from transformers import BertConfig, BertModel

from training.steppredictor import model as sp


def test_tiny_predictor_exports_onnx_that_matches_torch(tmp_path):
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=16, max_position_embeddings=64, attn_implementation="eager")
    schedulers, ladder = ["ddim", "euler"], [5, 10, 20]
    model = sp.StepPredictor(BertModel(cfg, add_pooling_layer=False), schedulers, ladder).eval()
    out = tmp_path / "pred"
    man = sp.export(model, str(out), "diffusion/testdata/minilm/vocab.txt", schedulers, ladder, 16, {"default_steps": 50})
    assert man["schema"] == sp.SCHEMA and man["ladder"] == ladder and man["schedulers"] == schedulers
    assert json.load(open(out / "manifest.json")) == man
    assert (out / "vocab.txt").exists()
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 2000, (3, 16)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 9:] = 0
    types = np.zeros_like(ids)
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
    with torch.no_grad():
        ref = model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)).numpy()
    assert got.shape == (3, 2, 3)
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_committed_labels_parse_and_ladder_costs():
    rows = sp.load_rows("training/steppredictor/data/steppred_labels_ddim.jsonl")
    assert len(rows) > 100
    r = rows[0]
    assert r["scheduler"] == "ddim" and int(r["label"]) in [int(n) for n in r["ssim"]]
    assert sp.evaluations("heun", 10) == 19 and sp.evaluations("ddim", 10) == 10
    assert sp.caption_of("two cars heading left on the street at night") == "two cars moving left on the street at night"
