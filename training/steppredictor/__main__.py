import sys

from training.steppredictor.model import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m training.steppredictor"))
