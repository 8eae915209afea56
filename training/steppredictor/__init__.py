"""The diffusion step predictor (models/steppredictor) and its ladder labels (data/). Entry point:
`python -m training.steppredictor`."""
