"""Caption models: build-data -> train --model target -> distill (the draft) -> export --model target|draft."""
import sys

from training.common.cli import dispatch

COMMANDS = {
    "build-data": ("training.caption.build_data", "corpus and its byte-level BPE tokenizer (models/caption/tokenizer.json)"),
    "train": ("training.caption.train", "train the draft or the target from scratch"),
    "distill": ("training.caption.distill", "distil the draft from the target's next-token distributions"),
    "export": ("training.caption.export", "ONNX (Optimum decoder-with-past layout) + manifest into models/caption"),
    "corpus": ("training.caption.corpus", "print a few seeded prompt + caption pairs"),
}

if __name__ == "__main__":
    sys.exit(dispatch("python -m training.caption", __doc__, COMMANDS))
