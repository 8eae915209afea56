"""MFCD-Net (models/mfcd): the camera-event dataset, features from the Go extractor, the RGB teacher, the
distilled early-exit student, its ONNX export and docs/MODELS.md. Entry point: `python -m training.mfcd`."""
