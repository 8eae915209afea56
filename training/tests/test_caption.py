import random

import numpy as np
import onnxruntime as ort
import torch
from tokenizers import Tokenizer

from training.caption import build_data, corpus, export
from training.caption.gpt2 import GPT2, Config


def test_corpus_is_seeded_and_prompts_carry_the_event():
    a, b = corpus.build(20, 7), corpus.build(20, 7)
    assert a == b
    assert corpus.build(20, 8) != a
    for ev, prompt, cap in a:
        assert prompt == corpus.prompt(ev)
        assert ev["label"] in corpus.LABELS
        assert ev["label"] in prompt
        assert cap.strip()
    ev = corpus.random_event(random.Random(1))
    assert corpus.direction(ev["label"]) == corpus.DIRECTION.get(ev["label"], "none")


def test_committed_tokenizer_round_trips_corpus_text():
    tok = Tokenizer.from_file("models/caption/tokenizer.json")
    eos = tok.token_to_id(corpus.END)
    assert eos is not None
    for _, prompt, cap in corpus.build(50, 3):
        text = prompt + cap
        ids = tok.encode(text).ids
        assert len(ids) < len(text)  # merges learnt, not bytes
        assert tok.decode(ids) == text


def test_trained_tokenizer_round_trips_and_encodes_pairs():
    pairs = corpus.build(200, 1)
    tok = build_data.train_tokenizer([p + c for _, p, c in pairs], 400)
    assert tok.get_vocab_size() <= 400
    for text in ["dock-2 north loading bay", "Ünïcödé, tabs\tand 12:34", pairs[0][1] + pairs[0][2]]:
        assert tok.decode(tok.encode(text).ids) == text
    seqs = build_data.encode(tok, pairs[:5])
    eos = tok.token_to_id(corpus.END)
    for (ids, prompt_len), (_, p, _) in zip(seqs, pairs[:5]):
        assert ids[-1] == eos
        assert tok.decode(ids[:prompt_len]) == p


def test_gpt2_exports_to_onnx_that_matches_torch_with_and_without_cache(tmp_path):
    torch.manual_seed(0)
    cfg = Config(vocab_size=50, n_positions=32, n_embd=16, n_layer=2, n_head=2)
    model = GPT2(cfg).eval()
    path = str(tmp_path / "model.onnx")
    export.export_onnx(model, cfg, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = np.random.default_rng(0).integers(0, 50, (1, 9)).astype(np.int64)
    with torch.no_grad():
        ref, _ = model(torch.from_numpy(ids))
    full, _ = export.ort_run(sess, cfg, ids, None)
    np.testing.assert_allclose(full, ref.numpy(), atol=1e-4)
    first, past = export.ort_run(sess, cfg, ids[:, :6], None)
    rest, _ = export.ort_run(sess, cfg, ids[:, 6:], past)
    np.testing.assert_allclose(np.concatenate([first, rest], 1), ref.numpy(), atol=1e-4)
