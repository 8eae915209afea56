import numpy as np
import pytest
import torch
from PIL import Image

from training.mfcd import dataset, export, models


@pytest.fixture(scope="module")
def backgrounds(tmp_path_factory):
    """A textured stand-in for the Debian wallpapers the real dataset uses (they need not be installed)."""
    yy, xx = np.mgrid[0:540, 0:960].astype(np.float32)
    rng = np.random.default_rng(3)
    img = np.stack([128 + 90 * np.sin(xx / 17 + yy / 29), 128 + 90 * np.cos(yy / 13), 128 + 60 * np.sin((xx + yy) / 7)], 2)
    img += rng.normal(0, 8, img.shape)
    path = tmp_path_factory.mktemp("bg") / "bg.png"
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return [str(path)]


@pytest.mark.parametrize("label", ["idle", "object_right", "pan", "illumination", "tamper", "scene_change"])
def test_render_shapes_interval_and_determinism(backgrounds, label):
    frames, interval = dataset.render(label, np.random.default_rng(11), backgrounds, 64, 48)
    assert frames.shape == (dataset.NUM_FRAMES, 48, 64, 3) and frames.dtype == np.uint8
    a, b = interval
    assert 0 <= a < b <= dataset.NUM_FRAMES
    if label in ("idle", "object_right", "pan"):
        assert (a, b) == (0, dataset.NUM_FRAMES)
    elif label in ("tamper", "scene_change"):
        assert b - a < dataset.NUM_FRAMES  # a cover or a cut happens inside the clip
    again, interval2 = dataset.render(label, np.random.default_rng(11), backgrounds, 64, 48)
    assert interval2 == interval and np.array_equal(again, frames)


def test_pan_moves_the_view_and_idle_does_not(backgrounds):
    def change(label):
        f, _ = dataset.render(label, np.random.default_rng(5), backgrounds, 64, 48)
        return np.abs(f[-1].astype(np.float32) - f[0]).mean()
    assert change("pan") > 3 * change("idle")


def test_windows_for_video_labels_by_overlap():
    meta = {"event": [5, 12], "label_id": 3}
    assert dataset.windows_for_video(meta, [(0, 8), (8, 16), (16, 24), (10, 18)]) == [3, 3, -1, -1]
    short = {"event": [11, 13], "label_id": 8}  # a 2-frame event counts when fully inside
    assert dataset.windows_for_video(short, [(8, 16), (12, 20), (16, 24)]) == [8, -1, -1]


def test_student_exports_three_stages_that_onnx_runtime_matches(tmp_path):
    torch.manual_seed(0)
    C, T, H, W, K = 3, 4, 16, 16, 5
    student = models.Student(C, T, K, [0.0, 0.0, 0.1], [1.0, 1.0, 0.5], widths=(4, 8, 8, 8)).eval()
    x = np.random.default_rng(0).standard_normal((6, C, T, H, W)).astype(np.float32)
    with torch.no_grad():
        ref = [torch.softmax(l, 1).numpy() for l in student(torch.from_numpy(x))]
        f1 = student.stage1(student.fold(torch.from_numpy(x[:2])))
        f2 = student.stage2(f1)
    feat_shapes = [list(f1.shape[1:]), list(f2.shape[1:])]
    examples = [torch.from_numpy(x[:2]), f1, f2]
    sessions = []
    for k in (1, 2, 3):
        inputs, outputs = export.stage_io(k, C, T, H, W, K, feat_shapes)
        names_in, names_out = [i["name"] for i in inputs], [o["name"] for o in outputs]
        path = str(tmp_path / f"stage{k}.onnx")
        torch.onnx.export(models.StudentStage(student, k).eval(), (examples[k - 1],), path, dynamo=False,
                          input_names=names_in, output_names=names_out, opset_version=export.OPSET,
                          dynamic_axes={n: {0: "batch"} for n in names_in + names_out})
        sessions.append(export.session(path))
        assert [i.name for i in sessions[-1].get_inputs()] == names_in
        assert [o.name for o in sessions[-1].get_outputs()] == names_out
    got = export.run_chain(sessions, x)
    for k in range(3):
        assert got[k].shape == (6, K)
        np.testing.assert_allclose(got[k], ref[k], atol=1e-5)
    flops = models.stage_flops(student, torch.from_numpy(x[:1]))
    assert len(flops) == 3 and all(f > 0 for f in flops)
