package main

import (
	"fmt"
	"os"

	"github.com/mvwatch/mvwatch/pipeline"
)

// openModel resolves and loads the model directory for the sub-command name. On failure it reports the
// error and returns the exit status: 2 for a directory without a model, 1 for a model that did not load.
func openModel(name, dir, precision string) (*pipeline.Model, int) {
	dir, err := pipeline.ResolveModelDir(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch %s: %v\n", name, err)
		return nil, 2
	}
	model, err := pipeline.LoadModel(dir, pipeline.ModelOptions{Precision: precision})
	if err != nil {
		fmt.Fprintf(os.Stderr, "mvwatch %s: model: %v\n", name, err)
		return nil, 1
	}
	return model, 0
}
