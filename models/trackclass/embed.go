// Package trackclass embeds the object-class model of the tracker (internal/track): a small MLP over a
// track's compressed-domain features, trained by training/trackclass (`make train-trackclass`) on real
// footage labelled by a raw-RGB teacher. See docs/MODELS.md.
package trackclass

import _ "embed"

// Model is model.json: the feature names and normalisation, the layers' weights and the classes.
//
//go:embed model.json
var Model []byte
