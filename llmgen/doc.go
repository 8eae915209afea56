// Package llmgen generates event captions with decoder language models: a byte-level BPE tokenizer,
// a KV-cache decoder runner, and autoregressive and speculative sampling.
package llmgen
