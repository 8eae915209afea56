package diffusion

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/mvwatch/mvwatch/inference"
)

// StepPredictorSchema is the schema tag of a step predictor manifest.json.
const StepPredictorSchema = "mvwatch.steppredictor.v1"

// ErrBadPredictor reports a step predictor directory this package cannot use.
var ErrBadPredictor = errors.New("bad step predictor")

// StepPredictorManifest is the manifest.json of a step predictor directory (written by
// training/steppredictor/model.py).
type StepPredictorManifest struct {
	Schema       string   `json:"schema"`
	Model        string   `json:"model"`         // ONNX file, relative to the directory
	Tokenizer    string   `json:"tokenizer"`     // vocab.txt or tokenizer.json, relative to the directory
	MaxLength    int      `json:"max_length"`    // encoded length with [CLS]/[SEP]
	Schedulers   []string `json:"schedulers"`    // one head per scheduler, in output order
	Ladder       []int    `json:"ladder"`        // step counts, the classes of every head
	DefaultSteps int      `json:"default_steps"` // the fixed step count the predictor saves against
	Tolerance    float64  `json:"tolerance"`     // the similarity the labels kept to the reference image
	Similarity   string   `json:"similarity"`    // how similarity was measured ("ssim")
	BaseModel    string   `json:"base_model"`
	// Quantile, when above 0, picks the smallest ladder count whose predicted cumulative probability reaches
	// it (0.5: the median class) instead of the most probable class; higher values buy safety with steps.
	// Classification predictors only.
	Quantile float64 `json:"quantile,omitempty"`
	// Decision says what the logits are: "argmax" (or empty), class scores over the ladder (labels: the
	// smallest count within the tolerance); "utility", the predicted SSIM of every ladder count minus
	// Lambda[scheduler] × its UNet evaluations, so the argmax maximises similarity per cost.
	Decision string `json:"decision,omitempty"`
	// Lambda is the per-scheduler price of one UNet evaluation in SSIM (utility predictors; chosen on
	// validation captions of the training prompts). Informational: it is already in the graph.
	Lambda map[string]float64 `json:"lambda,omitempty"`
	// Evaluations is the UNet evaluations of every ladder count per scheduler (utility predictors).
	Evaluations map[string][]int `json:"evaluations,omitempty"`
}

// StepPredictor maps a prompt to the fewest denoising steps that keep full quality for a scheduler: a
// fine-tuned MiniLM (WordPiece tokenizer, mean pooling) with one classification head per scheduler over a
// ladder of step counts. Predict may be called from several goroutines; Close waits for running calls.
type StepPredictor struct {
	mu       sync.RWMutex
	closed   bool
	manifest StepPredictorManifest
	tok      *WordPiece
	session  *inference.Session
	rank     int // 2: logits [batch, ladder] (one scheduler) or 3: [batch, schedulers, ladder]
}

// StepPrediction is the outcome for one prompt and scheduler.
type StepPrediction struct {
	Steps         int       // the predicted step count (a ladder entry)
	Scores        []float64 // the model's output over Ladder (class logits, or utilities; see Decision)
	Probabilities []float64 // softmax over Ladder (for a utility predictor only an ordering, not a probability)
	Ladder        []int
}

// LoadStepPredictor opens a step predictor directory (manifest.json, the ONNX model, the tokenizer).
// inference.Init must have been called.
func LoadStepPredictor(dir string, threads int) (*StepPredictor, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("diffusion: step predictor: %w", err)
	}
	var m StepPredictorManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("diffusion: step predictor manifest: %w: %w", err, ErrBadPredictor)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	tok, err := LoadWordPiece(filepath.Join(dir, m.Tokenizer))
	if err != nil {
		return nil, err
	}
	tok.MaxLength = m.MaxLength
	tok.Truncate = false
	s, err := inference.OpenSession(filepath.Join(dir, m.Model), inference.SessionConfig{
		Inputs:  []string{"input_ids", "attention_mask", "token_type_ids"},
		Outputs: []string{"logits"}, IntraOpThreads: threads})
	if err != nil {
		return nil, fmt.Errorf("diffusion: step predictor model: %w", err)
	}
	out, _ := s.Output("logits")
	p := &StepPredictor{manifest: m, tok: tok, session: s, rank: len(out.Shape)}
	want := []int64{-1, int64(len(m.Schedulers)), int64(len(m.Ladder))}
	if p.rank == 2 {
		want = []int64{-1, int64(len(m.Ladder))}
	}
	ok := (p.rank == 2 && len(m.Schedulers) == 1) || p.rank == 3
	for i := 1; ok && i < p.rank; i++ {
		ok = out.Shape[i] < 0 || out.Shape[i] == want[i]
	}
	if !ok || out.DType != inference.DTypeFloat32 {
		return nil, errors.Join(fmt.Errorf("diffusion: step predictor output %v, manifest wants float32 %v: %w",
			out, want, ErrBadPredictor), s.Close())
	}
	return p, nil
}

func (m StepPredictorManifest) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("diffusion: step predictor manifest: "+format+": %w", append(args, ErrBadPredictor)...)
	}
	switch {
	case m.Schema != StepPredictorSchema:
		return bad("schema %q, want %q", m.Schema, StepPredictorSchema)
	case m.Model == "" || m.Tokenizer == "":
		return bad("model and tokenizer files must be named")
	case m.MaxLength < 3 || m.MaxLength > 512:
		return bad("max_length %d outside [3,512]", m.MaxLength)
	case len(m.Schedulers) == 0:
		return bad("no schedulers")
	case len(m.Ladder) < 2 || !slices.IsSorted(m.Ladder) || m.Ladder[0] < 1:
		return bad("ladder %v must be at least two increasing positive step counts", m.Ladder)
	case m.Quantile < 0 || m.Quantile > 1 || math.IsNaN(m.Quantile):
		return bad("quantile %v outside [0,1]", m.Quantile)
	case m.Decision != "" && m.Decision != "argmax" && m.Decision != "utility":
		return bad("decision %q (want argmax or utility)", m.Decision)
	case m.Decision == "utility" && m.Quantile > 0:
		return bad("quantile needs class probabilities; a utility predictor has none")
	}
	for _, s := range m.Schedulers {
		if _, err := lookupScheduler(s); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

// Manifest returns the predictor's manifest.
func (p *StepPredictor) Manifest() StepPredictorManifest { return p.manifest }

// Predict returns the step count for prompt under the named scheduler.
func (p *StepPredictor) Predict(prompt, scheduler string) (StepPrediction, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return StepPrediction{}, ErrClosed
	}
	if strings.TrimSpace(prompt) == "" {
		return StepPrediction{}, fmt.Errorf("diffusion: %w", ErrEmptyPrompt)
	}
	head := -1
	want, err := lookupScheduler(scheduler)
	if err != nil {
		return StepPrediction{}, err
	}
	for i, s := range p.manifest.Schedulers {
		if got, _ := lookupScheduler(s); got == want {
			head = i
		}
	}
	if head < 0 {
		return StepPrediction{}, fmt.Errorf("diffusion: step predictor has no head for %q (has %s): %w",
			scheduler, strings.Join(p.manifest.Schedulers, ", "), ErrUnknownScheduler)
	}
	enc, err := p.tok.Encode(prompt)
	if err != nil {
		return StepPrediction{}, err
	}
	shape := []int64{1, int64(len(enc.IDs))}
	nl := len(p.manifest.Ladder)
	logits := make([]float32, len(p.manifest.Schedulers)*nl)
	outShape := []int64{1, int64(len(p.manifest.Schedulers)), int64(nl)}
	if p.rank == 2 {
		outShape = []int64{1, int64(nl)}
	}
	if err := p.session.Run([]inference.Value{inference.Int64(shape, enc.IDs),
		inference.Int64(shape, enc.AttentionMask), inference.Int64(shape, enc.TypeIDs)},
		[]inference.Value{inference.Float32(outShape, logits)}); err != nil {
		return StepPrediction{}, fmt.Errorf("diffusion: step predictor: %w", err)
	}
	row := logits[head*nl : (head+1)*nl]
	probs := make([]float64, nl)
	best, sum := 0, 0.0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	for i, v := range row {
		probs[i] = math.Exp(float64(v - row[best]))
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
	if q := p.manifest.Quantile; q > 0 {
		cum := 0.0
		for i, pr := range probs {
			if cum += pr; cum >= q-1e-12 {
				best = i
				break
			}
		}
	}
	scores := make([]float64, nl)
	for i, v := range row {
		scores[i] = float64(v)
	}
	return StepPrediction{Steps: p.manifest.Ladder[best], Scores: scores, Probabilities: probs,
		Ladder: append([]int(nil), p.manifest.Ladder...)}, nil
}

// Close releases the model after running Predict calls return.
func (p *StepPredictor) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.session.Close()
}
