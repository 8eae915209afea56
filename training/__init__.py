"""mvwatch's model training, export and test-fixture generation (plain PyTorch; never on the serving path).

Run everything from the repository root with the project's virtual environment (`make train-setup`):

  training/.venv/bin/python -m training.mfcd COMMAND ...           MFCD-Net (models/mfcd): dataset, features, train, report
  training/.venv/bin/python -m training.caption COMMAND ...        caption draft/target (models/caption): data, train, distill, export
  training/.venv/bin/python -m training.thumbnail COMMAND ...      thumbnail diffusion model (models/thumbnail): train, samples, check, prompts
  training/.venv/bin/python -m training.steppredictor COMMAND ...  diffusion step predictor (models/steppredictor): labels, train, policy, headroom
  training/.venv/bin/python -m training.fixtures NAME ...          the generators of committed Go test fixtures

Each entry point without arguments lists its commands; COMMAND --help gives its flags. Shared helpers
(command dispatch, the CLIP-style byte-level BPE, SSIM) are in training.common; the smoke tests in
training/tests run with `make test-training`.
"""
