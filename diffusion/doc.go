// Package diffusion renders event thumbnails with a text-to-image diffusion model whose step count a
// small text model predicts per prompt.
package diffusion
