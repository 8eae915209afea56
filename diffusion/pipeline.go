package diffusion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/mvwatch/mvwatch/inference"
)

// ErrMissingPart reports a model directory without one of the parts a pipeline needs.
var ErrMissingPart = errors.New("model directory incomplete")

// ErrEmptyPrompt reports a prompt with no text.
var ErrEmptyPrompt = errors.New("empty prompt")

// ErrClosed reports use of a closed pipeline.
var ErrClosed = errors.New("pipeline closed")

// Pipeline is Stable Diffusion text-to-image on ONNX Runtime for a model directory in the Hugging Face Optimum
// layout: text_encoder/model.onnx, unet/model.onnx, vae_decoder/model.onnx, tokenizer/ (CLIP vocab.json +
// merges.txt) and scheduler/scheduler_config.json; vae_decoder/config.json and unet/config.json are read
// when present. Input names, element types and ranks come from the models' metadata: the text encoder may take
// int32 or int64 ids, the UNet timestep may be int64/int32/float32 of rank 0 or 1. Only float32 models are
// supported.
//
// Generate may be called from several goroutines; Close waits for running calls to finish.
type Pipeline struct {
	mu     sync.RWMutex // Generate holds it shared, Close exclusive
	closed bool

	dir       string
	tokenizer *CLIPTokenizer
	text      *inference.Session
	unet      *inference.Session
	vae       *inference.Session

	textIDs   inference.TensorInfo
	textOut   inference.TensorInfo
	timestep  inference.TensorInfo
	latentOut inference.TensorInfo

	schedulerConfig []byte
	defaultSched    string
	hidden          int64
	seqLen          int64
	channels        int64
	vaeFactor       int
	scaling         float64
	defaultLatent   int // latent side used when a request gives no size
}

// PipelineConfig tunes OpenPipeline.
type PipelineConfig struct {
	// IntraOpThreads is the ONNX Runtime thread count per model; 0 uses the runtime's default.
	IntraOpThreads int
}

// OpenPipeline loads a model directory. inference.Init must have been called.
func OpenPipeline(dir string, cfg PipelineConfig) (*Pipeline, error) {
	need := []string{"text_encoder/model.onnx", "unet/model.onnx", "vae_decoder/model.onnx",
		"tokenizer/vocab.json", "tokenizer/merges.txt", "scheduler/scheduler_config.json"}
	var missing []string
	for _, n := range need {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("diffusion: %s lacks %s: %w", dir, strings.Join(missing, ", "), ErrMissingPart)
	}
	p := &Pipeline{dir: dir, defaultSched: "ddim", scaling: 0.18215, vaeFactor: 8, defaultLatent: 64}
	var err error
	if p.tokenizer, err = LoadCLIPTokenizer(filepath.Join(dir, "tokenizer")); err != nil {
		return nil, err
	}
	if p.schedulerConfig, err = ReadSchedulerConfig(filepath.Join(dir, "scheduler", "scheduler_config.json")); err != nil {
		return nil, err
	}
	if c := SchedulerClass(p.schedulerConfig); c != "" {
		if _, err := NewScheduler(c, p.schedulerConfig); err == nil { // e.g. PNDM without skip_prk_steps: DDIM
			p.defaultSched = c
		}
	}
	if _, err := NewScheduler(p.defaultSched, p.schedulerConfig); err != nil {
		return nil, err
	}
	p.readConfigs()
	if err := p.openSessions(cfg); err != nil {
		return nil, errors.Join(err, p.closeSessions())
	}
	return p, nil
}

// readConfigs picks up the optional diffusers config.json files.
func (p *Pipeline) readConfigs() {
	var vae struct {
		BlockOutChannels []int   `json:"block_out_channels"`
		ScalingFactor    float64 `json:"scaling_factor"`
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, "vae_decoder", "config.json")); err == nil &&
		json.Unmarshal(b, &vae) == nil {
		if n := len(vae.BlockOutChannels); n > 0 && n < 8 {
			p.vaeFactor = 1 << (n - 1)
		}
		if vae.ScalingFactor > 0 {
			p.scaling = vae.ScalingFactor
		}
	}
	var unet struct {
		SampleSize int `json:"sample_size"`
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, "unet", "config.json")); err == nil &&
		json.Unmarshal(b, &unet) == nil && unet.SampleSize > 0 && unet.SampleSize <= 512 {
		p.defaultLatent = unet.SampleSize
	}
}

// openSessions opens the three models and checks their metadata.
func (p *Pipeline) openSessions(cfg PipelineConfig) error {
	part := func(name string) string { return filepath.Join(p.dir, name, "model.onnx") }
	textIn, textOuts, err := inference.ModelInputs(part("text_encoder"))
	if err != nil {
		return err
	}
	var ok bool
	if p.textIDs, ok = findInfo(textIn, "input_ids"); !ok || len(p.textIDs.Shape) != 2 ||
		(p.textIDs.DType != inference.DTypeInt32 && p.textIDs.DType != inference.DTypeInt64) {
		return fmt.Errorf("diffusion: text encoder needs an int32/int64 [batch, sequence] input_ids, has %v: %w",
			textIn, ErrMissingPart)
	}
	if err := onlyInputs(textIn, "text encoder", "input_ids"); err != nil {
		return err
	}
	if p.textOut, ok = findInfo(textOuts, "last_hidden_state"); !ok && len(textOuts) > 0 {
		p.textOut = textOuts[0]
	}
	if len(p.textOut.Shape) != 3 || p.textOut.DType != inference.DTypeFloat32 {
		return fmt.Errorf("diffusion: text encoder output %v is not float32 [batch, sequence, hidden]: %w",
			p.textOut, ErrMissingPart)
	}
	unetIn, unetOuts, err := inference.ModelInputs(part("unet"))
	if err != nil {
		return err
	}
	sample, ok1 := findInfo(unetIn, "sample")
	hidden, ok2 := findInfo(unetIn, "encoder_hidden_states")
	p.timestep, ok = findInfo(unetIn, "timestep")
	if !ok || !ok1 || !ok2 || len(sample.Shape) != 4 || len(hidden.Shape) != 3 || len(p.timestep.Shape) > 1 ||
		sample.DType != inference.DTypeFloat32 || hidden.DType != inference.DTypeFloat32 {
		return fmt.Errorf("diffusion: UNet needs float32 sample [b,c,h,w], timestep (rank 0/1) and float32 "+
			"encoder_hidden_states [b,s,d]; has %v: %w", unetIn, ErrMissingPart)
	}
	if err := onlyInputs(unetIn, "UNet", "sample", "timestep", "encoder_hidden_states"); err != nil {
		return err
	}
	switch p.timestep.DType {
	case inference.DTypeInt64, inference.DTypeInt32, inference.DTypeFloat32:
	default:
		return fmt.Errorf("diffusion: UNet timestep type %s unsupported: %w", p.timestep.DType, ErrMissingPart)
	}
	if len(unetOuts) == 0 {
		return fmt.Errorf("diffusion: UNet has no output: %w", ErrMissingPart)
	}
	p.latentOut = unetOuts[0]
	p.hidden = firstStatic(hidden.Shape[2], p.textOut.Shape[2])
	if p.hidden <= 0 {
		return fmt.Errorf("diffusion: cannot tell the text embedding width from %v / %v: %w", hidden, p.textOut,
			ErrMissingPart)
	}
	p.channels = firstStatic(sample.Shape[1], 4)
	p.seqLen = int64(p.tokenizer.MaxLength)
	if s := p.textIDs.Shape[1]; s > 0 && s != p.seqLen {
		return fmt.Errorf("diffusion: text encoder takes %d tokens, tokenizer makes %d: %w", s, p.seqLen,
			ErrMissingPart)
	}
	vaeIn, vaeOuts, err := inference.ModelInputs(part("vae_decoder"))
	if err != nil {
		return err
	}
	latentIn, ok := findInfo(vaeIn, "latent_sample")
	if !ok || len(latentIn.Shape) != 4 || len(vaeOuts) == 0 || len(vaeOuts[0].Shape) != 4 {
		return fmt.Errorf("diffusion: VAE decoder needs latent_sample [b,c,h,w] -> image [b,3,H,W]; has %v -> %v: %w",
			vaeIn, vaeOuts, ErrMissingPart)
	}
	if err := onlyInputs(vaeIn, "VAE decoder", "latent_sample"); err != nil {
		return err
	}
	threads := cfg.IntraOpThreads
	if p.text, err = inference.OpenSession(part("text_encoder"), inference.SessionConfig{
		Inputs: []string{"input_ids"}, Outputs: []string{p.textOut.Name}, IntraOpThreads: threads}); err != nil {
		return err
	}
	if p.unet, err = inference.OpenSession(part("unet"), inference.SessionConfig{
		Inputs:  []string{"sample", "timestep", "encoder_hidden_states"},
		Outputs: []string{p.latentOut.Name}, IntraOpThreads: threads}); err != nil {
		return err
	}
	p.vae, err = inference.OpenSession(part("vae_decoder"), inference.SessionConfig{
		Inputs: []string{"latent_sample"}, Outputs: []string{vaeOuts[0].Name}, IntraOpThreads: threads})
	return err
}

// onlyInputs refuses models that need inputs this pipeline does not feed (SDXL's text_embeds/time_ids, a
// text encoder attention_mask).
func onlyInputs(infos []inference.TensorInfo, part string, allowed ...string) error {
	for _, in := range infos {
		if !slices.Contains(allowed, in.Name) {
			return fmt.Errorf("diffusion: %s input %s is not supported (Stable Diffusion 1.x/2.x inputs are %s): %w",
				part, in, strings.Join(allowed, ", "), ErrMissingPart)
		}
	}
	return nil
}

func findInfo(infos []inference.TensorInfo, name string) (inference.TensorInfo, bool) {
	for _, t := range infos {
		if t.Name == name {
			return t, true
		}
	}
	return inference.TensorInfo{}, false
}

// firstStatic returns the first non-negative dimension.
func firstStatic(dims ...int64) int64 {
	for _, d := range dims {
		if d >= 0 {
			return d
		}
	}
	return -1
}

// DefaultScheduler is the scheduler name the model's scheduler_config.json names: "pndm" for Stable Diffusion
// 1.x exports (PNDMScheduler with skip_prk_steps), DDIM when the class or its settings are not ones this
// package implements (e.g. LMSDiscreteScheduler, or PNDM with its Runge-Kutta warm-up).
func (p *Pipeline) DefaultScheduler() string { return p.defaultSched }

// SchedulerConfig returns the model's scheduler_config.json text.
func (p *Pipeline) SchedulerConfig() []byte { return append([]byte(nil), p.schedulerConfig...) }

// Request is one text-to-image call.
type Request struct {
	Prompt         string
	NegativePrompt string  // the unconditional prompt for classifier-free guidance; "" as in diffusers
	Steps          int     // denoising steps; it defaults to 50
	GuidanceScale  float64 // classifier-free guidance weight; it defaults to 7.5; 1 or less turns it off
	Scheduler      string  // scheduler name; it defaults to DefaultScheduler()
	Width, Height  int     // image size in pixels (multiples of the VAE factor); default: the UNet sample size
	Seed           uint64  // seeds the starting noise and any ancestral noise
	// Latents, when set, is the starting noise [1, channels, Height/f, Width/f] (before InitNoiseSigma
	// scaling), replacing the seeded one.
	Latents []float32
}

// Result is one generated image.
type Result struct {
	Image       *image.NRGBA
	Pixels      []float32 // height×width×3 in [0,1], before 8-bit rounding
	Evaluations int       // UNet calls (one batched call covers both halves of guidance)
	Scheduler   string
	Steps       int
}

// Generate runs text encoder, the scheduler loop with classifier-free guidance and the VAE decoder.
func (p *Pipeline) Generate(ctx context.Context, req Request) (Result, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return Result{}, ErrClosed
	}
	if strings.TrimSpace(req.Prompt) == "" {
		return Result{}, fmt.Errorf("diffusion: %w", ErrEmptyPrompt)
	}
	steps, guidance, schedName := req.Steps, req.GuidanceScale, req.Scheduler
	if steps == 0 {
		steps = 50
	}
	if guidance == 0 {
		guidance = 7.5
	}
	if schedName == "" {
		schedName = p.defaultSched
	}
	sched, err := NewScheduler(schedName, p.schedulerConfig)
	if err != nil {
		return Result{}, err
	}
	if err := sched.SetTimesteps(steps); err != nil {
		return Result{}, err
	}
	lh, lw, err := p.latentSize(req.Width, req.Height)
	if err != nil {
		return Result{}, err
	}
	cfg := guidance > 1
	emb, err := p.embed(req.Prompt)
	if err != nil {
		return Result{}, err
	}
	if cfg {
		neg, err := p.embed(req.NegativePrompt)
		if err != nil {
			return Result{}, err
		}
		emb = append(neg, emb...)
	}
	n := int(p.channels) * lh * lw
	lat := make([]float64, n)
	switch {
	case req.Latents != nil:
		if len(req.Latents) != n {
			return Result{}, fmt.Errorf("diffusion: latents have %d values, want 1x%dx%dx%d: %w",
				len(req.Latents), p.channels, lh, lw, ErrBadInput)
		}
		for i, v := range req.Latents {
			lat[i] = float64(v)
		}
	default:
		NewGaussianNoise(req.Seed).Fill(lat)
	}
	sigma0 := sched.InitNoiseSigma()
	for i := range lat {
		lat[i] = float64(float32(lat[i]) * float32(sigma0))
	}
	stepNoise := NewGaussianNoise(req.Seed + 1)
	batch := int64(1)
	if cfg {
		batch = 2
	}
	in := make([]float32, int(batch)*n)
	out := make([]float32, int(batch)*n)
	pred := make([]float64, n)
	sampleShape := []int64{batch, p.channels, int64(lh), int64(lw)}
	for i, t := range sched.Timesteps() {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		scaled, err := sched.ScaleModelInput(i, lat)
		if err != nil {
			return Result{}, err
		}
		for j, v := range scaled {
			in[j] = float32(v)
			if cfg {
				in[n+j] = float32(v)
			}
		}
		err = p.unet.Run([]inference.Value{
			inference.Float32(sampleShape, in),
			p.timestepValue(t, batch),
			inference.Float32([]int64{batch, p.seqLen, p.hidden}, emb),
		}, []inference.Value{inference.Float32(sampleShape, out)})
		if err != nil {
			return Result{}, fmt.Errorf("diffusion: UNet step %d: %w", i, err)
		}
		for j := range pred {
			if cfg {
				u, c := out[j], out[n+j]
				pred[j] = float64(u + float32(guidance)*(c-u))
			} else {
				pred[j] = float64(out[j])
			}
		}
		if lat, err = sched.Step(i, pred, lat, stepNoise); err != nil {
			return Result{}, err
		}
	}
	img, pixels, err := p.decode(lat, lh, lw)
	if err != nil {
		return Result{}, err
	}
	return Result{Image: img, Pixels: pixels, Evaluations: len(sched.Timesteps()), Scheduler: schedName,
		Steps: steps}, nil
}

// latentSize converts a requested pixel size into latent rows and columns.
func (p *Pipeline) latentSize(w, h int) (int, int, error) {
	if w == 0 && h == 0 {
		return p.defaultLatent, p.defaultLatent, nil
	}
	f := p.vaeFactor
	if w <= 0 || h <= 0 || w%f != 0 || h%f != 0 || w/f > 512 || h/f > 512 {
		return 0, 0, fmt.Errorf("diffusion: image size %dx%d must be positive multiples of %d (at most %d): %w",
			w, h, f, 512*f, ErrBadInput)
	}
	return h / f, w / f, nil
}

// timestepValue builds the UNet timestep tensor in the element type and rank the model declares: integer
// types get the timestep truncated (as numpy's astype does in diffusers' ONNX pipeline).
func (p *Pipeline) timestepValue(t float64, batch int64) inference.Value {
	var shape []int64
	count := int64(1)
	if len(p.timestep.Shape) == 1 {
		count = batch
		if p.timestep.Shape[0] >= 0 {
			count = p.timestep.Shape[0]
		}
		shape = []int64{count}
	}
	switch p.timestep.DType {
	case inference.DTypeInt64:
		v := make([]int64, count)
		for i := range v {
			v[i] = int64(math.Trunc(t))
		}
		return inference.Int64(shape, v)
	case inference.DTypeInt32:
		v := make([]int32, count)
		for i := range v {
			v[i] = int32(math.Trunc(t))
		}
		return inference.Int32(shape, v)
	default:
		v := make([]float32, count)
		for i := range v {
			v[i] = float32(t)
		}
		return inference.Float32(shape, v)
	}
}

// embed runs the text encoder on one prompt.
func (p *Pipeline) embed(prompt string) ([]float32, error) {
	ids, truncated := p.tokenizer.Encode(prompt)
	if truncated {
		return nil, fmt.Errorf("diffusion: prompt has more than the %d tokens the text encoder takes: %w",
			p.seqLen-2, ErrPromptTooLong)
	}
	shape := []int64{1, p.seqLen}
	var in inference.Value
	if p.textIDs.DType == inference.DTypeInt32 {
		v := make([]int32, len(ids))
		for i, id := range ids {
			v[i] = int32(id)
		}
		in = inference.Int32(shape, v)
	} else {
		in = inference.Int64(shape, ids)
	}
	out := make([]float32, p.seqLen*p.hidden)
	if err := p.text.Run([]inference.Value{in},
		[]inference.Value{inference.Float32([]int64{1, p.seqLen, p.hidden}, out)}); err != nil {
		return nil, fmt.Errorf("diffusion: text encoder: %w", err)
	}
	return out, nil
}

// decode runs the VAE decoder and converts its [-1,1] CHW output to an image.
func (p *Pipeline) decode(lat []float64, lh, lw int) (*image.NRGBA, []float32, error) {
	in := make([]float32, len(lat))
	inv := float32(1 / p.scaling)
	for i, v := range lat {
		in[i] = inv * float32(v)
	}
	h, w := lh*p.vaeFactor, lw*p.vaeFactor
	out := make([]float32, 3*h*w)
	err := p.vae.Run([]inference.Value{inference.Float32([]int64{1, p.channels, int64(lh), int64(lw)}, in)},
		[]inference.Value{inference.Float32([]int64{1, 3, int64(h), int64(w)}, out)})
	if err != nil {
		return nil, nil, fmt.Errorf("diffusion: VAE decoder: %w", err)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	pixels := make([]float32, 3*h*w)
	for y := range h {
		for x := range w {
			var rgb [3]uint8
			for c := range 3 {
				v := min(max(out[(c*h+y)*w+x]/2+0.5, 0), 1)
				pixels[(y*w+x)*3+c] = v
				rgb[c] = uint8(math.RoundToEven(float64(v * 255)))
			}
			img.SetNRGBA(x, y, color.NRGBA{R: rgb[0], G: rgb[1], B: rgb[2], A: 255})
		}
	}
	return img, pixels, nil
}

// Close releases the models after running Generate calls return.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.closeSessions()
}

func (p *Pipeline) closeSessions() error {
	var errs []error
	for _, s := range []*inference.Session{p.text, p.unet, p.vae} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
