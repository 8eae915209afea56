package llmgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrVocabMismatch is returned when a draft and a target model do not share a vocabulary.
var ErrVocabMismatch = errors.New("llmgen: draft and target vocabularies differ")

// modelFiles are the ONNX file names LoadModel looks for, in order: this project's export and the
// names the Hugging Face Optimum exporter uses.
var modelFiles = []string{"model.onnx", "decoder_model_merged.onnx", "decoder_with_past_model.onnx"}

// Manifest is the part of a model directory's manifest.json (this project's) or config.json (Hugging
// Face's) that LoadModel reads; every field is optional.
type Manifest struct {
	// Name names the model in logs and metrics.
	Name string `json:"name"`
	// NPositions is the context length (GPT-2's n_positions).
	NPositions int `json:"n_positions"`
	// MaxPositionEmbeddings is the context length under its other common name.
	MaxPositionEmbeddings int `json:"max_position_embeddings"`
	// EOSTokenID is the end-of-text token id.
	EOSTokenID *int `json:"eos_token_id"`
	// PromptFormat documents the prompt the model was trained on.
	PromptFormat string `json:"prompt_format"`
}

// Model is one decoder model directory: the ONNX decoder, its tokenizer and its end-of-text id.
type Model struct {
	// Dir is the directory it was loaded from.
	Dir string
	// Decoder runs the network.
	Decoder *Decoder
	// Tokenizer is the directory's tokenizer.json.
	Tokenizer *Tokenizer
	// EOS is the end-of-text token id.
	EOS int
	// Manifest holds what the directory's manifest.json or config.json said.
	Manifest Manifest
}

// LoadModel opens a model directory holding tokenizer.json, one of model.onnx,
// decoder_model_merged.onnx or decoder_with_past_model.onnx (Optimum layout with past), and
// optionally manifest.json or config.json. cfg.MaxLength defaults to the context length those name.
// inference.Init must have succeeded.
func LoadModel(dir string, cfg DecoderConfig) (*Model, error) {
	m := &Model{Dir: dir}
	for _, name := range []string{"manifest.json", "config.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("llmgen: model %s: %w", dir, err)
		}
		if err := json.Unmarshal(data, &m.Manifest); err != nil {
			return nil, fmt.Errorf("llmgen: model %s: parse %s: %w", dir, name, err)
		}
		break
	}
	if m.Manifest.Name == "" {
		m.Manifest.Name = filepath.Base(dir)
	}
	tok, err := LoadTokenizer(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, fmt.Errorf("llmgen: model %s: %w", dir, err)
	}
	m.Tokenizer = tok
	switch {
	case m.Manifest.EOSTokenID != nil:
		m.EOS = *m.Manifest.EOSTokenID
	default:
		id, ok := tok.TokenID("<|endoftext|>")
		if !ok {
			return nil, fmt.Errorf("llmgen: model %s: no eos_token_id in manifest.json/config.json and no <|endoftext|> token", dir)
		}
		m.EOS = id
	}
	if cfg.MaxLength <= 0 {
		cfg.MaxLength = max(m.Manifest.NPositions, m.Manifest.MaxPositionEmbeddings)
	}
	var path string
	for _, name := range modelFiles {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("llmgen: model %s: none of %v found", dir, modelFiles)
	}
	d, err := OpenDecoder(path, cfg)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > d.Vocab() || m.EOS < 0 || m.EOS >= d.Vocab() {
		d.Close()
		return nil, fmt.Errorf("llmgen: model %s: tokenizer has %d ids (eos %d), logits have %d", dir,
			tok.VocabSize(), m.EOS, d.Vocab())
	}
	m.Decoder = d
	return m, nil
}

// Close frees the decoder.
func (m *Model) Close() error { return m.Decoder.Close() }

// sameVocabulary reports why two models cannot pair for speculative decoding, or nil.
func sameVocabulary(target, draft *Model) error {
	if target.Decoder.Vocab() != draft.Decoder.Vocab() {
		return fmt.Errorf("%w: target %s has %d logits, draft %s has %d", ErrVocabMismatch, target.Dir,
			target.Decoder.Vocab(), draft.Dir, draft.Decoder.Vocab())
	}
	if target.EOS != draft.EOS {
		return fmt.Errorf("%w: eos id %d (target) vs %d (draft)", ErrVocabMismatch, target.EOS, draft.EOS)
	}
	a, b := target.Tokenizer, draft.Tokenizer
	if a.VocabSize() != b.VocabSize() || len(a.vocab) != len(b.vocab) || len(a.added) != len(b.added) {
		return fmt.Errorf("%w: tokenizer sizes %d vs %d", ErrVocabMismatch, a.VocabSize(), b.VocabSize())
	}
	for tok, id := range a.vocab {
		if bid, ok := b.vocab[tok]; !ok || bid != id {
			return fmt.Errorf("%w: token %q is %d in the target, %d in the draft", ErrVocabMismatch, tok, id, bid)
		}
	}
	for id, at := range a.addedByID {
		if b.addedByID[id].content != at.content {
			return fmt.Errorf("%w: added token %d is %q vs %q", ErrVocabMismatch, id, at.content, b.addedByID[id].content)
		}
	}
	return nil
}
