package demux

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astiav"
)

// HWStatus says what a hardware-decoder choice came to once the decoder opened.
type HWStatus struct {
	// Requested is the configured choice.
	Requested HWAccel
	// Active is the hardware kind in use, or HWNone when decoding runs in software.
	Active HWAccel
	// Reason says why the decoder runs in software despite a hardware request; empty otherwise.
	Reason string
}

// Fallback reports whether a hardware decoder was requested but software decoding runs.
func (s HWStatus) Fallback() bool { return s.Requested != HWNone && s.Active == HWNone }

var hwDeviceTypes = map[HWAccel]astiav.HardwareDeviceType{
	HWQSV:   astiav.HardwareDeviceTypeQSV,
	HWVAAPI: astiav.HardwareDeviceTypeVAAPI,
	HWCUDA:  astiav.HardwareDeviceTypeCUDA,
}

// errNoMVsInHardware is the reason given when motion vectors force the software decoder.
var errNoMVsInHardware = errors.New("hardware decoders do not export motion vectors; the software decoder runs")

// openHWDevice probes the hardware choice: it returns the device context of the first kind that opens
// (for HWAuto: qsv, then vaapi, then cuda), or an error that joins every kind's failure.
func openHWDevice(choice HWAccel) (*astiav.HardwareDeviceContext, HWAccel, error) {
	kinds := []HWAccel{choice}
	if choice == HWAuto {
		kinds = []HWAccel{HWQSV, HWVAAPI, HWCUDA}
	}
	var errs []error
	for _, k := range kinds {
		hdc, err := astiav.CreateHardwareDeviceContext(hwDeviceTypes[k], "", nil)
		if err == nil {
			return hdc, k, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", k, err))
	}
	return nil, HWNone, errors.Join(errs...)
}

// hwPixelFormat returns the pixel format a decoder uses for frames on the given hardware device.
func hwPixelFormat(c *astiav.Codec, t astiav.HardwareDeviceType) (astiav.PixelFormat, bool) {
	for _, hc := range c.HardwareConfigs() {
		if hc.HardwareDeviceType() == t && hc.MethodFlags().Has(astiav.CodecHardwareConfigMethodFlagHwDeviceCtx) {
			return hc.PixelFormat(), true
		}
	}
	return astiav.PixelFormatNone, false
}
