package inference

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// ThroughputConfig configures MeasureThroughput.
type ThroughputConfig struct {
	// BatchSizes are the batch sizes to compare; the first is the baseline of the ratios. It
	// defaults to 1, 4, 8.
	BatchSizes []int
	// Duration is the measuring time per batch size, spread over Rounds. It defaults to 3 seconds.
	Duration time.Duration
	// Rounds interleaves the batch sizes this many times, so that load from other processes hits
	// them alike. It defaults to 5.
	Rounds int
	// Precision selects the stage files. It defaults to PrecisionFP32.
	Precision Precision
	// EarlyExit uses the manifest's exit thresholds. It defaults to false: every clip runs every stage,
	// because the synthetic clips are not representative of where real clips exit.
	EarlyExit bool
	// IntraOpThreads overrides the environment's intra-op thread count when > 0.
	IntraOpThreads int
	// Workers is ClassifierConfig.Workers, with its default.
	Workers int
}

// ThroughputResult is the throughput at one batch size.
type ThroughputResult struct {
	// Batch is the number of clips per Classify call.
	Batch int `json:"batch"`
	// Clips is the number of clips classified.
	Clips int `json:"clips"`
	// Seconds is the time spent classifying them.
	Seconds float64 `json:"seconds"`
	// ClipsPerSecond is Clips / Seconds.
	ClipsPerSecond float64 `json:"clips_per_s"`
	// Ratio is ClipsPerSecond over the first batch size's.
	Ratio float64 `json:"ratio"`
}

// MeasureThroughput loads the model in dir and measures inference throughput (clips per second) at
// each batch size on the same classifier and the same synthetic clips (seeded uniform noise in
// [-1, 1]), in one process, interleaving the batch sizes. Init must have succeeded. It is the figure
// behind `mvwatch bench serve`'s batching ratio.
func MeasureThroughput(dir string, cfg ThroughputConfig) ([]ThroughputResult, error) {
	if len(cfg.BatchSizes) == 0 {
		cfg.BatchSizes = []int{1, 4, 8}
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 3 * time.Second
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 5
	}
	for _, n := range cfg.BatchSizes {
		if n <= 0 {
			return nil, fmt.Errorf("inference: throughput: batch size %d must be positive", n)
		}
	}
	ccfg := ClassifierConfig{
		Precision:      cfg.Precision,
		MaxBatch:       slices.Max(cfg.BatchSizes),
		FullRun:        !cfg.EarlyExit,
		IntraOpThreads: cfg.IntraOpThreads,
		Workers:        cfg.Workers,
	}
	cls, err := NewClassifier(dir, ccfg)
	if err != nil {
		return nil, err
	}
	res, err := measureThroughput(cls, cfg)
	return res, errors.Join(err, cls.Close())
}

func measureThroughput(cls *Classifier, cfg ThroughputConfig) ([]ThroughputResult, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	clips := make([][]float32, cls.MaxBatch())
	for i := range clips {
		clips[i] = make([]float32, cls.ClipSize())
		for j := range clips[i] {
			clips[i][j] = rng.Float32()*2 - 1
		}
	}
	out := make([]Result, len(clips))
	// Warm up every batch size once (ONNX Runtime allocates on the first run of a shape).
	for _, n := range cfg.BatchSizes {
		if err := cls.Classify(clips[:n], out[:n]); err != nil {
			return nil, err
		}
	}
	res := make([]ThroughputResult, len(cfg.BatchSizes))
	slot := cfg.Duration / time.Duration(cfg.Rounds)
	for range cfg.Rounds {
		for i, n := range cfg.BatchSizes {
			start := time.Now()
			for time.Since(start) < slot {
				if err := cls.Classify(clips[:n], out[:n]); err != nil {
					return nil, err
				}
				res[i].Clips += n
			}
			res[i].Seconds += time.Since(start).Seconds()
		}
	}
	for i, n := range cfg.BatchSizes {
		res[i].Batch = n
		res[i].ClipsPerSecond = float64(res[i].Clips) / res[i].Seconds
		res[i].Ratio = res[i].ClipsPerSecond / res[0].ClipsPerSecond
	}
	return res, nil
}
