import json

import numpy as np

from training.trackclass.dump import encode_args
from training.trackclass.train import forward_np


def test_committed_model_reproduces_its_fixture():
    doc = json.load(open("models/trackclass/model.json"))
    fx = json.load(open("models/trackclass/fixture.json"))
    assert doc["classes"] == ["person", "vehicle", "other"]
    assert len(doc["features"]) == len(doc["mean"]) == len(fx["inputs"][0])
    np.testing.assert_allclose(forward_np(doc, fx["inputs"]), fx["probabilities"], atol=1e-12)


def test_encode_args_follow_the_evaluation_profile():
    enc = json.load(open("testdata/realfootage/manifest.json"))["encode"]
    args = encode_args(enc, "in.mp4", "out.mp4", mirrored=True)
    assert args[args.index("-vf") + 1] == f"hflip,scale={enc['width']}:-2,format=yuv420p"
    assert args[args.index("-crf") + 1] == str(enc["crf"])
    assert args[args.index("-bf") + 1] == str(enc["bframes"])
