import argparse
import json
import os

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from training.fixtures import thumbnail_refs
from training.thumbnail import model as tm


@pytest.fixture
def events32():
    tm.configure(argparse.Namespace(size=32, grammar="events"))
    yield
    tm.configure(argparse.Namespace(size=64, grammar="full"))


def decode(tok, ids):
    """The inverse of BPETokenizer (pieces joined by spaces), for the round trip."""
    inv = {i: t for t, i in tok.vocab.items()}
    byte_dec = {c: b for b, c in tm.bytes_to_unicode().items()}
    words = "".join(inv[i] for i in ids[1:ids.index(tok.eos)]).replace("</w>", " ").split()
    return " ".join(bytes(byte_dec[c] for c in w).decode() for w in words)


def pieces(text):
    return " ".join(tm.BPETokenizer.SPLIT.findall(" ".join(text.split()).lower()))


def test_shipped_tokenizer_round_trips_every_canonical_caption():
    vocab = json.load(open("models/thumbnail/tokenizer/vocab.json", encoding="utf-8"))
    merges = [tuple(m.split()) for m in open("models/thumbnail/tokenizer/merges.txt", encoding="utf-8").read().split("\n")[1:] if m]
    tok = tm.BPETokenizer(vocab, merges)
    caps = tm.events_captions()
    assert len(caps) == 360
    for c in caps + ["Two cars moving LEFT,  on the street at night"]:
        ids = tok(c)
        assert len(ids) == 77 and ids[0] == tok.bos
        assert len(ids[1:ids.index(tok.eos)]) < len(c) / 2  # merged pieces, not bytes
        assert decode(tok, ids) == pieces(c)


def test_learnt_tokenizer_round_trips():
    caps = tm.events_captions()[::9]
    vocab, merges = tm.learn_captions_bpe(caps)
    assert vocab["<|endoftext|>"] == len(vocab) - 1 and len(merges) <= 400
    tok = tm.BPETokenizer(vocab, merges)
    for c in caps + ["a dog, unseen words: xylophone!"]:
        assert decode(tok, tok(c)) == pieces(c)


def test_dataset_images_and_captions(events32):
    imgs, caps = tm.make_dataset(6, 3)
    assert imgs.shape == (6, 32, 32, 3) and imgs.dtype == np.uint8
    assert len(caps) == 6 and all(caps)
    again, caps2 = tm.make_dataset(6, 3)
    assert caps2 == caps and np.array_equal(again, imgs)


def test_reference_fixture_regenerates_the_committed_pixels(tmp_path):
    thumbnail_refs.main(["--out", str(tmp_path)])
    names = sorted(os.listdir("diffusion/testdata/thumbnail_refs"))
    assert names == sorted(os.listdir(tmp_path)) and len(names) == 6
    for n in names:
        got = np.asarray(Image.open(tmp_path / n))
        want = np.asarray(Image.open(os.path.join("diffusion/testdata/thumbnail_refs", n)))
        assert np.array_equal(got, want), n


def test_tiny_model_exports_and_onnx_runtime_matches(tmp_path, events32):
    torch.manual_seed(0)
    tok_dir = tmp_path / "tok"
    tm.write_tokenizer(str(tok_dir), tm.events_captions())
    te = tm.TextEncoder(len(json.load(open(tok_dir / "vocab.json"))), dim=16, layers=1, heads=2)
    unet = tm.UNet(cin=tm.latent_channels(), ch=(8, 16), ctx_dim=16).eval()
    out = tmp_path / "model"
    tm.export_all(str(out), te, unet, str(tok_dir))
    for f in ("text_encoder/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx", "tokenizer/vocab.json",
              "scheduler/scheduler_config.json", "model_index.json"):
        assert (out / f).exists(), f
    ids = torch.zeros((2, 77), dtype=torch.int32)
    ids[:, :4] = torch.tensor([49, 3, 7, 50])[None] % te.tok.num_embeddings
    sess = ort.InferenceSession(str(out / "text_encoder/model.onnx"), providers=["CPUExecutionProvider"])
    hidden = sess.run(None, {"input_ids": ids.numpy()})[0]
    with torch.no_grad():
        ref_h = te(ids)
    np.testing.assert_allclose(hidden, ref_h.numpy(), atol=1e-4)
    lat = 32 // tm.R
    x = torch.randn(2, tm.latent_channels(), lat, lat)
    t = torch.tensor([10, 500])
    sess = ort.InferenceSession(str(out / "unet/model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"sample": x.numpy(), "timestep": t.numpy(), "encoder_hidden_states": ref_h.numpy()})[0]
    with torch.no_grad():
        ref = unet(x, t, ref_h)
    assert got.shape == (2, tm.latent_channels(), lat, lat)
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-4)
