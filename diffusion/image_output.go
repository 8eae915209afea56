package diffusion

import (
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
)

// ErrBadFormat reports an image format other than png or jpeg.
var ErrBadFormat = fmt.Errorf("unsupported image format: %w", ErrBadInput)

// EncodeImage writes img as "png" or "jpeg" (alias "jpg"; quality 90).
func EncodeImage(w io.Writer, img image.Image, format string) error {
	var err error
	switch strings.ToLower(format) {
	case "png":
		err = png.Encode(w, img)
	case "jpeg", "jpg":
		err = jpeg.Encode(w, img, &jpeg.Options{Quality: 90})
	default:
		return fmt.Errorf("diffusion: image format %q (want png or jpeg): %w", format, ErrBadFormat)
	}
	if err != nil {
		return fmt.Errorf("diffusion: encode %s: %w", format, err)
	}
	return nil
}
