"""The caption draft and target (models/caption): corpus, tokenizer, plain-PyTorch GPT-2, distillation and
the Optimum-layout ONNX export. Entry point: `python -m training.caption`."""
