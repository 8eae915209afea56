"""Object class per track (person / vehicle / other) from the tracker's compressed-domain features.

`make train-trackclass` runs, in order: dump (the training clips re-encoded to the evaluation's camera
profile, then `mvwatch tracks` for each: confirmed tracks with their features and boxes), label (a raw-RGB
teacher gives each track a class or abstains), train (a tiny MLP in PyTorch, fixed seed, validation split by
track from the training clips; exported as models/trackclass/model.json with a forward-pass fixture).

Only the training clips of training/realfootage/train_manifest.json are used; the evaluation set
(testdata/realfootage) is never read here.
"""
