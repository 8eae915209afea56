// Package llmgen generates event captions with decoder language models: a byte-level BPE tokenizer,
// a KV-cache decoder runner, and autoregressive and speculative sampling.
//
// Tokenizer reads a Hugging Face tokenizer.json (GPT-2 style byte-level BPE) and gives the ids of the
// Python tokenizers library. Decoder runs one ONNX decoder in the Hugging Face Optimum layout with a
// preallocated, double-buffered KV cache that Truncate rolls back. Model bundles a decoder directory
// (model.onnx or decoder_model_merged.onnx, tokenizer.json, manifest.json or config.json). Generator
// decodes with a target alone (Autoregressive) or with a draft's proposals checked by the target
// (Speculative, exact to the target's distribution, adaptive draft length). Captioner is the stage the
// pipeline calls per event: Submit never blocks, a bounded queue drops and counts, one worker decodes.
//
// The shipped pair is models/caption/{target,draft}, trained by training/caption/; any
// Optimum-exported GPT-2-family pair that shares a vocabulary can be used instead.
package llmgen
