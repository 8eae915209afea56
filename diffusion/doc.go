// Package diffusion renders event thumbnails with a text-to-image diffusion model whose step count a
// small text model predicts per prompt.
//
// What is here:
//
//   - Schedulers (NewScheduler): DDIM, Euler, Euler Ancestral, Heun, DPM2 / DPM2 Karras (KDPM2), UniPC,
//     DPM-Solver++ 2M and PNDM (PLMS, skip_prk_steps, the scheduler Stable Diffusion 1.x exports name), configured from a diffusers scheduler_config.json and matched to diffusers 0.42.1 on
//     committed fixtures (testdata/schedulers.json, training/fixtures/schedulers.py): timesteps,
//     sigmas, init_noise_sigma and every step output agree to 1e-5 (relative above magnitude 1; the largest
//     difference seen is about 2e-6). Arithmetic is float64; the schedule tables (betas, alphas_cumprod,
//     sigmas) are rounded to float32 where diffusers stores them as float32 tensors. Heun and DPM2 cost
//     2N-1 UNet evaluations for N steps, PNDM N+1, the others N (Evaluations, len(Timesteps())).
//   - WordPiece: the BERT uncased tokenizer of all-MiniLM-L6-v2 (testdata/minilm), equal to Hugging Face
//     tokenizers on 372 strings.
//   - CLIPTokenizer: CLIP's byte-level BPE as transformers runs it, equal on 387 strings with the real
//     openai CLIP vocabulary.
//   - Pipeline: Stable Diffusion 1.x/2.x on ONNX Runtime for model directories in the Optimum layout
//     (text_encoder/, unet/, vae_decoder/, tokenizer/, scheduler/), input names, element types and ranks read
//     from the models, classifier-free guidance, VAE decode, PNG/JPEG (EncodeImage). Matched to diffusers'
//     OnnxStableDiffusionPipeline loop on a tiny random model (testdata/tiny-sd) to about 5e-6 per pixel.
//   - StepPredictor: prompt -> step count per scheduler, from a fine-tuned MiniLM exported by
//     training/steppredictor/model.py (manifest.json, schema mvwatch.steppredictor.v1): one head per
//     scheduler, either classes over a step ladder or (decision "utility") predicted SSIM minus a price per
//     UNet evaluation, so the argmax maximises similarity per cost.
//   - EventPrompt: an event label, the camera's scene and the time of day as a prompt in models/thumbnail's
//     vocabulary.
//   - StepBench: fixed default vs predicted vs equal-cost fixed step counts, with SSIM (scikit-image's
//     Gaussian variant) to the default image and the saved fraction of UNet evaluations.
//   - Thumbnailer: the per-event stage. Submit never blocks (a bounded queue that drops and counts), one
//     goroutine renders (step choice by the predictor, generation, PNG), Close cancels and waits; metrics
//     (ThumbnailMetrics) on an injected prometheus.Registerer: steps chosen, UNet evaluations run and saved
//     against the fixed default, seconds per thumbnail, drops.
//
// The project's own thumbnail model (models/thumbnail, 32x32 pixels, about 0.65 M parameters) is trained on the
// CPU by training/thumbnail/model.py (procedural camera-event illustrations, plain PyTorch, exported
// in the same Optimum layout); its step predictor (models/steppredictor, INT8 MiniLM) by
// training/steppredictor/model.py from ladder labels made with that model. Both READMEs give the exact
// commands.
package diffusion
