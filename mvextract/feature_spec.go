package mvextract

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// FeatureSpec is everything that shapes a model's input features: the Extractor's and the Clipper's
// configuration. `mvwatch features` takes it as command-line flags, a model manifest records that
// command line, and the serving pipeline parses it back (ParseFeatureSpec), so training and serving
// compute features the same way.
type FeatureSpec struct {
	Extractor ExtractorConfig
	Clip      ClipConfig
}

// FeatureFlags holds a FeatureSpec's flags while a flag.FlagSet parses them; call Spec afterwards.
type FeatureFlags struct {
	clip      ClipConfig
	size      string
	mvNorm    float64
	resNorm   float64
	interp    string
	reference string
}

// RegisterFeatureFlags defines the feature flags on fs with their defaults (8-frame 64x64 clips at
// stride 8, bilinear interpolation, the last I/P-frame as reference).
func RegisterFeatureFlags(fs *flag.FlagSet) *FeatureFlags {
	f := &FeatureFlags{size: "64x64"}
	fs.IntVar(&f.clip.Length, "clip-len", 8, "frames per clip (T)")
	fs.StringVar(&f.size, "size", f.size, "model input size WIDTHxHEIGHT")
	fs.IntVar(&f.clip.Stride, "stride", 8, "frames between the first frames of consecutive clips")
	fs.IntVar(&f.clip.Step, "step", 1, "take every step-th frame inside a clip")
	fs.BoolVar(&f.clip.Accumulate, "accumulate", false, "CoViAR-style motion and residual accumulated back to the last I-frame")
	fs.BoolVar(&f.clip.AbsResidual, "abs-residual", false, "add a channel: mean |residual|")
	fs.BoolVar(&f.clip.Chroma, "chroma", false, "add two channels: mean Cb and Cr residuals")
	fs.Float64Var(&f.mvNorm, "mv-norm", 0.5, "divide displacements (in model-input pixels) by this")
	fs.Float64Var(&f.resNorm, "residual-norm", 128, "divide luma residuals by this")
	fs.StringVar(&f.interp, "interp", "bilinear", "sub-pel interpolation of the motion-compensated prediction: bilinear or h264 (exact for H.264, slower)")
	fs.StringVar(&f.reference, "reference", "anchor", "reference frame of the prediction: anchor (last I/P-frame) or previous (previous frame)")
	return f
}

// Spec checks the parsed flags and returns the spec.
func (f *FeatureFlags) Spec() (FeatureSpec, error) {
	var s FeatureSpec
	w, h, err := ParseSize(f.size)
	if err != nil {
		return s, err
	}
	s.Clip = f.clip
	s.Clip.Width, s.Clip.Height = w, h
	s.Clip.MVNorm, s.Clip.ResidualNorm = float32(f.mvNorm), float32(f.resNorm)
	if s.Extractor.Interpolation, err = ParseInterpolation(f.interp); err != nil {
		return s, err
	}
	if s.Extractor.Reference, err = ParseReference(f.reference); err != nil {
		return s, err
	}
	s.Extractor.Chroma = s.Clip.Chroma
	return s, nil
}

// ParseFeatureSpec reads the feature flags out of a `mvwatch features` command line such as a
// manifest records; other words and flags (the input, --out, --threads) are ignored.
func ParseFeatureSpec(commandLine string) (FeatureSpec, error) {
	fs := flag.NewFlagSet("features", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	ff := RegisterFeatureFlags(fs)
	var keep []string
	args := strings.Fields(commandLine)
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		fl := fs.Lookup(name)
		if fl == nil {
			continue
		}
		keep = append(keep, a)
		if _, isBool := fl.Value.(interface{ IsBoolFlag() bool }); !hasValue && !isBool && i+1 < len(args) {
			i++
			keep = append(keep, args[i])
		}
	}
	if err := fs.Parse(keep); err != nil {
		return FeatureSpec{}, fmt.Errorf("feature flags %q: %w", commandLine, err)
	}
	return ff.Spec()
}

// ParseSize parses WIDTHxHEIGHT.
func ParseSize(s string) (int, int, error) {
	ws, hs, ok := strings.Cut(s, "x")
	w, werr := strconv.Atoi(ws)
	h, herr := strconv.Atoi(hs)
	if !ok || werr != nil || herr != nil || w < 1 || h < 1 || w > 4096 || h > 4096 {
		return 0, 0, fmt.Errorf("bad size %q (want WIDTHxHEIGHT, e.g. 64x64)", s)
	}
	return w, h, nil
}
