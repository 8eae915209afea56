package track

import "github.com/mvwatch/mvwatch/internal/config"

// ConfigFor returns the Scene configuration of a validated camera: its masks and zones.
func ConfigFor(cam config.Camera) Config {
	cfg := Config{Masks: cam.MaskShapes()}
	if len(cam.Zones) > 0 {
		zs := make([]Zone, 0, len(cam.Zones))
		for _, z := range cam.Zones {
			if shape := z.Shape(); shape != nil {
				zs = append(zs, Zone{Name: z.Name, Shape: shape, Labels: z.Labels, Dwell: z.Dwell.D()})
			}
		}
		cfg.Zones = NewZoneSet(zs)
	}
	return cfg
}
