package llmgen

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mvwatch/mvwatch/inference"
)

// ErrContextFull is returned when a forward pass would exceed the decoder's context length.
var ErrContextFull = errors.New("llmgen: context length exceeded")

// DecoderConfig configures a Decoder.
type DecoderConfig struct {
	// MaxLength is the context length: the most tokens the cache holds. It defaults to 1024; LoadModel
	// sets it from the model directory's manifest.json or config.json when they name one.
	MaxLength int
	// MaxStep is the most tokens one Forward call takes. It defaults to MaxLength.
	MaxStep int
	// IntraOpThreads overrides the ONNX Runtime intra-op thread count when > 0.
	IntraOpThreads int
}

// Decoder runs one decoder-only language model exported in the Hugging Face Optimum layout (inputs
// input_ids, attention_mask, optional position_ids and use_cache_branch, past_key_values.N.key/value;
// outputs logits, present.N.key/value) for one sequence with a KV cache. The cache lives in two
// preallocated buffers per layer that the model reads from and writes into in turn, so steady-state
// decoding allocates no cache memory; Truncate rolls the cache back. A Decoder is not safe for
// concurrent use.
type Decoder struct {
	sess    *inference.Session
	layers  int
	heads   int
	headDim int
	vocab   int
	maxLen  int
	maxStep int
	hasPos  bool
	hasUse  bool

	// cache[b][l][0|1] is buffer b of layer l's key (0) or value (1), [heads, length, headDim]
	// contiguous for the current length; cur is the buffer holding the live cache.
	cache  [2][][2][]float32
	cur    int
	length int
	tokens []int // the ids in the cache, for prefix reuse

	ids, mask, pos []int64
	use            []bool
	logits         []float32
	inputs         []inference.Value
	outputs        []inference.Value
}

// OpenDecoder loads the ONNX model at path and reads its layer count, heads, head size and vocabulary
// size from its input and output metadata. inference.Init must have succeeded.
func OpenDecoder(path string, cfg DecoderConfig) (*Decoder, error) {
	if cfg.MaxLength <= 0 {
		cfg.MaxLength = 1024
	}
	if cfg.MaxStep <= 0 || cfg.MaxStep > cfg.MaxLength {
		cfg.MaxStep = cfg.MaxLength
	}
	ins, outs, err := inference.ModelInputs(path)
	if err != nil {
		return nil, err
	}
	d := &Decoder{maxLen: cfg.MaxLength, maxStep: cfg.MaxStep}
	inNames, outNames, err := d.readLayout(path, ins, outs)
	if err != nil {
		return nil, err
	}
	sess, err := inference.OpenSession(path, inference.SessionConfig{Inputs: inNames, Outputs: outNames,
		IntraOpThreads: cfg.IntraOpThreads})
	if err != nil {
		return nil, err
	}
	d.sess = sess
	d.allocate()
	return d, nil
}

// readLayout validates the Optimum layout and returns the input and output names in Run order.
func (d *Decoder) readLayout(path string, ins, outs []inference.TensorInfo) ([]string, []string, error) {
	byName := func(infos []inference.TensorInfo) map[string]inference.TensorInfo {
		m := make(map[string]inference.TensorInfo, len(infos))
		for _, t := range infos {
			m[t.Name] = t
		}
		return m
	}
	in, out := byName(ins), byName(outs)
	missing := func(kind, name string) error {
		return fmt.Errorf("%w: decoder %s has no %s %q (Optimum decoder layout expected)",
			inference.ErrMissingTensor, path, kind, name)
	}
	for _, n := range []string{"input_ids", "attention_mask"} {
		t, ok := in[n]
		if !ok {
			return nil, nil, missing("input", n)
		}
		if t.DType != inference.DTypeInt64 || len(t.Shape) != 2 {
			return nil, nil, fmt.Errorf("llmgen: decoder %s: input %s, want int64 [batch, length]", path, t)
		}
	}
	inNames := []string{"input_ids", "attention_mask"}
	if t, ok := in["position_ids"]; ok {
		if t.DType != inference.DTypeInt64 || len(t.Shape) != 2 {
			return nil, nil, fmt.Errorf("llmgen: decoder %s: input %s, want int64 [batch, length]", path, t)
		}
		d.hasPos = true
		inNames = append(inNames, "position_ids")
	}
	if t, ok := in["use_cache_branch"]; ok {
		if t.DType != inference.DTypeBool {
			return nil, nil, fmt.Errorf("llmgen: decoder %s: input %s, want bool", path, t)
		}
		d.hasUse = true
		inNames = append(inNames, "use_cache_branch")
	}
	logits, ok := out["logits"]
	if !ok {
		return nil, nil, missing("output", "logits")
	}
	if len(logits.Shape) != 3 || logits.Shape[2] <= 0 || logits.DType != inference.DTypeFloat32 {
		return nil, nil, fmt.Errorf("llmgen: decoder %s: output %s, want float32 [batch, length, vocab] with a fixed vocab", path, logits)
	}
	d.vocab = int(logits.Shape[2])
	for n := range in {
		if rest, ok := strings.CutPrefix(n, "past_key_values."); ok && strings.HasSuffix(rest, ".key") {
			d.layers++
		}
	}
	if d.layers == 0 {
		return nil, nil, missing("input", "past_key_values.0.key")
	}
	outNames := []string{"logits"}
	for l := 0; l < d.layers; l++ {
		for _, kv := range []string{"key", "value"} {
			pn := "past_key_values." + strconv.Itoa(l) + "." + kv
			on := "present." + strconv.Itoa(l) + "." + kv
			pt, ok := in[pn]
			if !ok {
				return nil, nil, missing("input", pn)
			}
			if _, ok := out[on]; !ok {
				return nil, nil, missing("output", on)
			}
			if len(pt.Shape) != 4 || pt.Shape[1] <= 0 || pt.Shape[3] <= 0 || pt.DType != inference.DTypeFloat32 {
				return nil, nil, fmt.Errorf("llmgen: decoder %s: input %s, want float32 [batch, heads, past, head_dim] with fixed heads and head_dim", path, pt)
			}
			if l == 0 && kv == "key" {
				d.heads, d.headDim = int(pt.Shape[1]), int(pt.Shape[3])
			} else if int(pt.Shape[1]) != d.heads || int(pt.Shape[3]) != d.headDim {
				return nil, nil, fmt.Errorf("llmgen: decoder %s: input %s differs from layer 0's [%d heads, %d head_dim]", path, pt, d.heads, d.headDim)
			}
			inNames = append(inNames, pn)
			outNames = append(outNames, on)
		}
	}
	return inNames, outNames, nil
}

func (d *Decoder) allocate() {
	per := d.heads * d.maxLen * d.headDim
	for b := range d.cache {
		d.cache[b] = make([][2][]float32, d.layers)
		for l := range d.cache[b] {
			d.cache[b][l][0] = make([]float32, per)
			d.cache[b][l][1] = make([]float32, per)
		}
	}
	d.tokens = make([]int, 0, d.maxLen)
	d.ids = make([]int64, d.maxStep)
	d.pos = make([]int64, d.maxStep)
	d.mask = make([]int64, d.maxLen)
	for i := range d.mask {
		d.mask[i] = 1
	}
	d.use = []bool{true}
	d.logits = make([]float32, d.maxStep*d.vocab)
	nIn := 2 + 2*d.layers
	if d.hasPos {
		nIn++
	}
	if d.hasUse {
		nIn++
	}
	d.inputs = make([]inference.Value, nIn)
	d.outputs = make([]inference.Value, 1+2*d.layers)
	for i := range d.inputs {
		d.inputs[i].Shape = make([]int64, 4)
	}
	for i := range d.outputs {
		d.outputs[i].Shape = make([]int64, 4)
	}
}

// Layers returns the number of transformer layers.
func (d *Decoder) Layers() int { return d.layers }

// Heads returns the number of attention heads of the cache.
func (d *Decoder) Heads() int { return d.heads }

// HeadDim returns the per-head size of the cache.
func (d *Decoder) HeadDim() int { return d.headDim }

// Vocab returns the logits width.
func (d *Decoder) Vocab() int { return d.vocab }

// MaxLength returns the context length.
func (d *Decoder) MaxLength() int { return d.maxLen }

// Len returns the number of tokens in the cache.
func (d *Decoder) Len() int { return d.length }

// Reset empties the cache.
func (d *Decoder) Reset() {
	d.length = 0
	d.tokens = d.tokens[:0]
}

// Tokens returns the ids in the cache; the slice is valid until the next call that changes it.
func (d *Decoder) Tokens() []int { return d.tokens }

// Prefill makes the cache hold exactly ids: it keeps the longest common prefix already cached,
// rolls back the rest and feeds the remainder. It returns the number of forward passes it ran (0 or 1).
func (d *Decoder) Prefill(ids []int) (int, error) {
	common := 0
	for common < len(ids) && common < len(d.tokens) && ids[common] == d.tokens[common] {
		common++
	}
	if err := d.Truncate(common); err != nil {
		return 0, err
	}
	if common == len(ids) {
		return 0, nil
	}
	if _, err := d.Forward(ids[common:]); err != nil {
		return 0, err
	}
	return 1, nil
}

// Truncate rolls the cache back to its first n tokens (n <= Len()).
func (d *Decoder) Truncate(n int) error {
	if n < 0 || n > d.length {
		return fmt.Errorf("llmgen: truncate to %d tokens, cache holds %d", n, d.length)
	}
	if n == d.length {
		return nil
	}
	old := d.length
	hd := d.headDim
	for l := 0; l < d.layers; l++ {
		for kv := 0; kv < 2; kv++ {
			buf := d.cache[d.cur][l][kv]
			// Heads move down in order; head h's destination never overlaps a later head's source.
			for h := 1; h < d.heads; h++ {
				copy(buf[h*n*hd:(h+1)*n*hd], buf[h*old*hd:h*old*hd+n*hd])
			}
		}
	}
	d.length = n
	d.tokens = d.tokens[:n]
	return nil
}

// Forward appends tokens to the cache and returns their logits, len(tokens) rows of Vocab() values.
// The returned slice is reused by the next call.
func (d *Decoder) Forward(tokens []int) ([]float32, error) {
	n := len(tokens)
	if n == 0 {
		return nil, errors.New("llmgen: forward with no tokens")
	}
	if n > d.maxStep {
		return nil, fmt.Errorf("llmgen: forward of %d tokens, at most %d per call", n, d.maxStep)
	}
	if d.length+n > d.maxLen {
		return nil, fmt.Errorf("%w: %d cached + %d new tokens > context %d", ErrContextFull, d.length, n, d.maxLen)
	}
	for i, t := range tokens {
		if t < 0 || t >= d.vocab {
			return nil, fmt.Errorf("llmgen: token id %d outside the model vocabulary (%d)", t, d.vocab)
		}
		d.ids[i] = int64(t)
		d.pos[i] = int64(d.length + i)
	}
	past, total := int64(d.length), int64(d.length+n)
	set := func(v *inference.Value, data any, dims ...int64) {
		v.Shape = append(v.Shape[:0], dims...)
		v.Data = data
	}
	k := 0
	set(&d.inputs[k], d.ids[:n], 1, int64(n))
	k++
	set(&d.inputs[k], d.mask[:total], 1, total)
	k++
	if d.hasPos {
		set(&d.inputs[k], d.pos[:n], 1, int64(n))
		k++
	}
	if d.hasUse {
		set(&d.inputs[k], d.use, 1)
		k++
	}
	set(&d.outputs[0], d.logits[:n*d.vocab], 1, int64(n), int64(d.vocab))
	h, hd := int64(d.heads), int64(d.headDim)
	src, dst := d.cache[d.cur], d.cache[1-d.cur]
	for l := 0; l < d.layers; l++ {
		for kv := 0; kv < 2; kv++ {
			set(&d.inputs[k], src[l][kv][:h*past*hd], 1, h, past, hd)
			k++
			set(&d.outputs[1+2*l+kv], dst[l][kv][:h*total*hd], 1, h, total, hd)
		}
	}
	if err := d.sess.Run(d.inputs, d.outputs); err != nil {
		return nil, fmt.Errorf("llmgen: decoder step: %w", err)
	}
	d.cur = 1 - d.cur
	d.length += n
	d.tokens = append(d.tokens, tokens...)
	return d.logits[:n*d.vocab], nil
}

// Close frees the model session.
func (d *Decoder) Close() error {
	if d.sess == nil {
		return nil
	}
	err := d.sess.Close()
	d.sess = nil
	return err
}
