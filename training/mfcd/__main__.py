"""MFCD-Net, in the order `make train-mfcd` runs it: dataset -> features -> real -> train -> report."""
import sys

from training.common.cli import dispatch

COMMANDS = {
    "dataset": ("training.mfcd.dataset", "render and encode the labelled camera-event clips"),
    "features": ("training.mfcd.features", "compressed-domain features (mvwatch features) and RGB frames per window"),
    "real": ("training.mfcd.real", "real training footage: re-encodes, features and raw-domain teacher labels"),
    "train": ("training.mfcd.train", "teacher, distilled early-exit student, thresholds, ONNX into models/mfcd"),
    "onnx-eval": ("training.mfcd.onnx_eval", "accuracy of an exported model's ONNX stages on the dataset's splits"),
    "report": ("training.mfcd.report", "write the MFCD-Net section of docs/MODELS.md"),
}

if __name__ == "__main__":
    sys.exit(dispatch("python -m training.mfcd", __doc__, COMMANDS))
