package diffusion

import (
	"context"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mvwatch/mvwatch/inference"
	"github.com/stretchr/testify/require"
)

func openTinySD(t *testing.T, dir string) *Pipeline {
	t.Helper()
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	p, err := OpenPipeline(dir, PipelineConfig{IntraOpThreads: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Close()) })
	return p
}

// imageTol is the agreement with diffusers' ONNX pipeline on [0,1] pixels: both run the same ONNX files; the
// scheduler arithmetic is float64 here and float32 there (seen: about 5e-6). A timestep off by one moves
// the Euler run by 8e-4.
const imageTol = 1e-4

func checkAgainstReference(t *testing.T, p *Pipeline, only string) {
	ref := loadTinySDReference(t)
	for _, r := range ref.Runs {
		if only != "" && r.Scheduler != only {
			continue
		}
		res, err := p.Generate(context.Background(), Request{Prompt: r.Prompt, NegativePrompt: r.NegativePrompt,
			Steps: r.Steps, GuidanceScale: r.GuidanceScale, Scheduler: r.Scheduler, Width: r.Width,
			Height: r.Height, Latents: ref.Latents})
		require.NoError(t, err)
		s, err := NewScheduler(r.Scheduler, p.SchedulerConfig())
		require.NoError(t, err)
		evals, err := Evaluations(s, r.Steps)
		require.NoError(t, err)
		require.Equal(t, evals, res.Evaluations) // PNDM: steps+1
		require.Len(t, res.Pixels, len(r.ImageHWC))
		worst := 0.0
		for i, want := range r.ImageHWC {
			worst = math.Max(worst, math.Abs(float64(res.Pixels[i])-want))
		}
		t.Logf("%s %d steps, guidance %v: largest pixel difference from diffusers %.2g", r.Scheduler, r.Steps,
			r.GuidanceScale, worst)
		require.Less(t, worst, imageTol, "%s %q", r.Scheduler, r.Prompt)
		require.Equal(t, r.Width, res.Image.Bounds().Dx())
	}
}

func TestPipelineMatchesDiffusers(t *testing.T) {
	p := openTinySD(t, "testdata/tiny-sd")
	require.Equal(t, "pndm", p.DefaultScheduler()) // the PNDMScheduler config of Stable Diffusion exports
	checkAgainstReference(t, p, "")
}

// linkModelDir builds a model directory in a temp folder from parts of others.
func linkModelDir(t *testing.T, parts map[string]string) string {
	dir := t.TempDir()
	for name, src := range parts {
		abs, err := filepath.Abs(src)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(abs, filepath.Join(dir, name)))
	}
	return dir
}

func TestPipelineFloatScalarTimestep(t *testing.T) {
	dir := linkModelDir(t, map[string]string{
		"text_encoder": "testdata/tiny-sd/text_encoder", "vae_decoder": "testdata/tiny-sd/vae_decoder",
		"tokenizer": "testdata/tiny-sd/tokenizer", "scheduler": "testdata/tiny-sd/scheduler",
		"unet": "testdata/tiny-sd-unet-float-timestep/unet"})
	p := openTinySD(t, dir)
	require.Equal(t, inference.DTypeFloat32, p.timestep.DType)
	require.Empty(t, p.timestep.Shape)
	checkAgainstReference(t, p, "ddim") // DDIM timesteps are integers: same result as the int64 UNet
}

func TestPipelineMissingPart(t *testing.T) {
	dir := linkModelDir(t, map[string]string{
		"text_encoder": "testdata/tiny-sd/text_encoder", "unet": "testdata/tiny-sd/unet",
		"tokenizer": "testdata/tiny-sd/tokenizer", "scheduler": "testdata/tiny-sd/scheduler"})
	require.NoError(t, inference.Init(inference.RuntimeConfig{}))
	_, err := OpenPipeline(dir, PipelineConfig{})
	require.ErrorIs(t, err, ErrMissingPart)
	require.Contains(t, err.Error(), "vae_decoder/model.onnx")

	// A file that is not an ONNX model fails cleanly too.
	bad := linkModelDir(t, map[string]string{
		"text_encoder": "testdata/tiny-sd/text_encoder", "unet": "testdata/tiny-sd/tokenizer",
		"tokenizer": "testdata/tiny-sd/tokenizer", "scheduler": "testdata/tiny-sd/scheduler",
		"vae_decoder": "testdata/tiny-sd/vae_decoder"})
	_, err = OpenPipeline(bad, PipelineConfig{})
	require.Error(t, err)

	// Models in the wrong slots (a text encoder as UNet, a UNet as VAE decoder) are refused by metadata.
	for name, parts := range map[string]map[string]string{
		"unet is a text encoder": {"unet": "testdata/tiny-sd/text_encoder", "vae_decoder": "testdata/tiny-sd/vae_decoder"},
		"vae is a unet":          {"unet": "testdata/tiny-sd/unet", "vae_decoder": "testdata/tiny-sd/unet"},
		"text is a vae":          {"unet": "testdata/tiny-sd/unet", "vae_decoder": "testdata/tiny-sd/vae_decoder", "text_encoder": "testdata/tiny-sd/vae_decoder"},
	} {
		all := map[string]string{"text_encoder": "testdata/tiny-sd/text_encoder", "tokenizer": "testdata/tiny-sd/tokenizer",
			"scheduler": "testdata/tiny-sd/scheduler"}
		for k, v := range parts {
			all[k] = v
		}
		_, err = OpenPipeline(linkModelDir(t, all), PipelineConfig{})
		require.ErrorIs(t, err, ErrMissingPart, name)
	}
}

func TestPipelineBadRequests(t *testing.T) {
	p := openTinySD(t, "testdata/tiny-sd")
	ctx := context.Background()
	for name, tc := range map[string]struct {
		req  Request
		want error
	}{
		"empty":      {Request{Prompt: "  \t"}, ErrEmptyPrompt},
		"overlong":   {Request{Prompt: strings.Repeat("walking ", 80)}, ErrPromptTooLong},
		"neg long":   {Request{Prompt: "car", NegativePrompt: strings.Repeat("fog ", 80)}, ErrPromptTooLong},
		"scheduler":  {Request{Prompt: "car", Scheduler: "lms"}, ErrUnknownScheduler},
		"steps":      {Request{Prompt: "car", Steps: -3}, ErrBadConfig},
		"size":       {Request{Prompt: "car", Width: 63, Height: 64}, ErrBadInput},
		"latent len": {Request{Prompt: "car", Steps: 2, Latents: []float32{1, 2}}, ErrBadInput},
	} {
		_, err := p.Generate(ctx, tc.req)
		require.ErrorIs(t, err, tc.want, name)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := p.Generate(cancelled, Request{Prompt: "car", Steps: 3})
	require.ErrorIs(t, err, context.Canceled)

	res, err := p.Generate(ctx, Request{Prompt: "a car at night", Steps: 3, Scheduler: "heun", Seed: 7})
	require.NoError(t, err)
	require.Equal(t, 5, res.Evaluations) // Heun: 2n-1
	again, err := p.Generate(ctx, Request{Prompt: "a car at night", Steps: 3, Scheduler: "heun", Seed: 7})
	require.NoError(t, err)
	require.Equal(t, res.Pixels, again.Pixels, "same seed, same image")

	require.NoError(t, p.Close())
	_, err = p.Generate(ctx, Request{Prompt: "car"})
	require.ErrorIs(t, err, ErrClosed)
}

func TestEncodeImage(t *testing.T) {
	p := openTinySD(t, "testdata/tiny-sd")
	res, err := p.Generate(context.Background(), Request{Prompt: "a truck turning left", Steps: 2, Seed: 3})
	require.NoError(t, err)
	for _, f := range []string{"png", "jpeg"} {
		var b strings.Builder
		require.NoError(t, EncodeImage(&b, res.Image, f))
		img, format, err := image.Decode(strings.NewReader(b.String()))
		require.NoError(t, err)
		require.Equal(t, f, format)
		require.Equal(t, res.Image.Bounds(), img.Bounds())
		if f == "png" { // lossless
			b := img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					require.Equal(t, res.Image.At(x, y), color.NRGBAModel.Convert(img.At(x, y)))
				}
			}
		}
	}
	require.ErrorIs(t, EncodeImage(io.Discard, res.Image, "gif"), ErrBadInput)
}

// TestPipelineExternal generates from a model directory named by $MVWATCH_SD_DIR (a real Optimum export or
// models/thumbnail) and writes the image next to the test's temp dir.
func TestPipelineExternal(t *testing.T) {
	dir := os.Getenv("MVWATCH_SD_DIR")
	if dir == "" {
		t.Skip("set MVWATCH_SD_DIR to an Optimum-layout Stable Diffusion directory")
	}
	p := openTinySD(t, dir)
	for _, s := range []string{"ddim", "euler", "unipc", "heun", "dpm2_karras", "euler_a", "dpmpp_2m"} {
		start := time.Now()
		res, err := p.Generate(context.Background(), Request{Prompt: "a red car moving left on the street at night",
			Steps: 20, Scheduler: s, Seed: 1})
		require.NoError(t, err)
		var b strings.Builder
		require.NoError(t, EncodeImage(&b, res.Image, "png"))
		out := filepath.Join(os.TempDir(), "mvwatch-"+s+".png")
		require.NoError(t, os.WriteFile(out, []byte(b.String()), 0o644))
		t.Logf("%s: %d evaluations in %v -> %s", s, res.Evaluations, time.Since(start), out)
	}
}

func TestPipelineConcurrentGenerate(t *testing.T) {
	p := openTinySD(t, "testdata/tiny-sd")
	req := func(i int) Request {
		return Request{Prompt: fmt.Sprintf("a dog running %d", i), Steps: 2, Seed: uint64(i), Scheduler: "unipc"}
	}
	want := make([][]float32, 3)
	for i := range want {
		res, err := p.Generate(context.Background(), req(i))
		require.NoError(t, err)
		want[i] = res.Pixels
	}
	got := make([][]float32, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Generate(context.Background(), req(i))
			got[i], errs[i] = res.Pixels, err
		}()
	}
	wg.Wait()
	for i := range got {
		require.NoError(t, errs[i])
		require.Equal(t, want[i], got[i], "request %d", i)
	}
}
