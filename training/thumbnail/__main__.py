import sys

from training.thumbnail.model import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m training.thumbnail"))
