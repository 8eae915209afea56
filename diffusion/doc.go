// Package diffusion renders event thumbnails with a text-to-image diffusion model whose step count a
// small text model predicts per prompt.
//
// What is here:
//
//   - Schedulers (NewScheduler): DDIM, Euler, Euler Ancestral, Heun, DPM2 / DPM2 Karras (KDPM2), UniPC and
//     DPM-Solver++ 2M, configured from a diffusers scheduler_config.json and matched to diffusers 0.42.1 on
//     committed fixtures (testdata/schedulers.json, training/diffusion/gen_scheduler_fixtures.py): timesteps,
//     sigmas, init_noise_sigma and every step output agree to 1e-5 (relative above magnitude 1; the largest
//     difference seen is about 2e-6). Arithmetic is float64; the schedule tables (betas, alphas_cumprod,
//     sigmas) are rounded to float32 where diffusers stores them as float32 tensors. Heun and DPM2 cost
//     2N-1 UNet evaluations for N steps, the others N (Evaluations, len(Timesteps())).
//   - WordPiece: the BERT uncased tokenizer of all-MiniLM-L6-v2 (testdata/minilm), equal to Hugging Face
//     tokenizers on 372 strings.
//   - CLIPTokenizer: CLIP's byte-level BPE as transformers runs it, equal on 387 strings with the real
//     openai CLIP vocabulary.
//   - Pipeline: Stable Diffusion on ONNX Runtime for model directories in the Optimum layout, matched to
//     diffusers' OnnxStableDiffusionPipeline loop on a tiny random model (testdata/tiny-sd), with PNG/JPEG
//     output (EncodeImage) and SSIM for comparing images.
package diffusion
