"""Track object classes, in the order `make train-trackclass` runs them: dump -> label -> train."""
import sys

from training.common.cli import dispatch

COMMANDS = {
    "dump": ("training.trackclass.dump", "re-encode the training clips and dump their tracks (mvwatch tracks)"),
    "label": ("training.trackclass.teacher", "raw-RGB teacher: a class (or none) for every dumped track"),
    "train": ("training.trackclass.train", "MLP on the labelled tracks, exported to models/trackclass"),
}

if __name__ == "__main__":
    sys.exit(dispatch("python -m training.trackclass", __doc__, COMMANDS))
