package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Inference holds the ONNX Runtime and cross-stream batching settings.
type Inference struct {
	// Library is the path of libonnxruntime.so. It defaults to empty (found automatically).
	// Env: MVWATCH_ORT_LIB.
	Library string `yaml:"library" json:"library,omitempty"`
	// Provider is the execution provider: "cpu", "cuda" or "openvino". It defaults to "cpu".
	// Env: MVWATCH_PROVIDER.
	Provider string `yaml:"provider" json:"provider"`
	// Precision selects the model files that run: "fp32" or "int8". It defaults to "fp32".
	// Flag: -precision.
	Precision string `yaml:"precision" json:"precision"`
	// Threads is the intra-op thread count, 0..MaxThreads. It defaults to 0 (sized to the machine).
	Threads int `yaml:"threads" json:"threads"`
	// MaxBatch is the largest cross-camera batch, 1..1024. It defaults to 8.
	MaxBatch int `yaml:"max_batch" json:"max_batch"`
	// MaxWait is how long a partial batch waits for more clips, 0..MaxBatchWait. It defaults to 20ms.
	MaxWait Duration `yaml:"max_wait" json:"max_wait"`
}

// Providers lists the ONNX Runtime execution providers inference.provider accepts.
var Providers = []string{"cpu", "cuda", "openvino"}

// Precisions lists the model precisions inference.precision (and -precision) accepts.
var Precisions = []string{"fp32", "int8"}

// MaxThreads bounds inference.threads: more intra-op threads than this only cost memory (and an absurd
// count makes ONNX Runtime fail to allocate).
const MaxThreads = 256

// MaxBatchWait bounds inference.max_wait.
const MaxBatchWait = 10 * time.Second

// Inference defaults.
const (
	DefaultProvider  = "cpu"
	DefaultPrecision = "fp32"
	DefaultMaxBatch  = 8
	DefaultMaxWait   = 20 * time.Millisecond
)

func (c *Inference) applyDefaults() {
	setStr(&c.Provider, DefaultProvider)
	setStr(&c.Precision, DefaultPrecision)
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxWait == 0 {
		c.MaxWait = Duration(DefaultMaxWait)
	}
}

// CheckPrecision reports whether s is one of Precisions.
func CheckPrecision(s string) error {
	if !slices.Contains(Precisions, s) {
		return fmt.Errorf("must be %s, not %q", strings.Join(Precisions, " or "), s)
	}
	return nil
}

func (c Inference) validate(p *problems) {
	if !slices.Contains(Providers, c.Provider) {
		p.bad("inference.provider", "must be cpu, cuda or openvino, not %q", c.Provider)
	}
	if err := CheckPrecision(c.Precision); err != nil {
		p.bad("inference.precision", "%v", err)
	}
	if c.Threads < 0 {
		p.bad("inference.threads", "must not be negative")
	} else if c.Threads > MaxThreads {
		p.bad("inference.threads", "must be 0..%d (0: sized to the machine), not %d", MaxThreads, c.Threads)
	}
	if c.MaxBatch < 1 || c.MaxBatch > 1024 {
		p.bad("inference.max_batch", "must be 1..1024, not %d", c.MaxBatch)
	}
	if c.MaxWait < 0 {
		p.bad("inference.max_wait", "must not be negative")
	} else if c.MaxWait.D() > MaxBatchWait {
		p.bad("inference.max_wait", "must be at most %v, not %v", MaxBatchWait, c.MaxWait)
	}
}
