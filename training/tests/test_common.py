import json

import numpy as np

from training.common.bpe import bytes_to_unicode, learn_bpe
from training.common.ssim import ssim


def test_ssim_reproduces_the_committed_fixture():
    cases = json.load(open("diffusion/testdata/ssim.json"))["cases"]
    assert len(cases) >= 5
    for c in cases:
        shape = (c["height"], c["width"], c["channels"])
        a = np.array(c["a"], np.float32).reshape(shape)
        b = np.array(c["b"], np.float32).reshape(shape)
        assert abs(ssim(a, b) - c["ssim"]) < 1e-12, c["name"]
    img = np.random.default_rng(0).random((16, 16, 3))
    assert abs(ssim(img, img) - 1.0) < 1e-12


def test_byte_map_is_a_bijection():
    m = bytes_to_unicode()
    assert sorted(m) == list(range(256))
    assert len(set(m.values())) == 256
    assert m[ord("a")] == "a" and m[ord(" ")] == "Ġ"


def test_learn_bpe_merges_the_most_frequent_pair_first():
    vocab, merges = learn_bpe(["low lower lowest", "low low"], 3)
    assert merges[0] == ("l", "o")
    assert len(merges) == 3
    assert vocab["<|endoftext|>"] == len(vocab) - 1
    assert "".join(merges[0]) in vocab
