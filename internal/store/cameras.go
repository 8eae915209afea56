package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/mvwatch/mvwatch/internal/config"
)

// The camera overlay: the changes made to the camera set through the API, kept so that they survive a
// restart. The config file stays the operator's; the running set is the file's cameras with the
// overlay applied (config.Overlay). A removed camera is kept as a tombstone, so that a camera the
// file still names stays removed. Each change is written and synced before it returns.

// cameraRecord is one overlay entry: a camera, or the tombstone of a removed one.
type cameraRecord struct {
	Removed bool          `json:"removed,omitempty"`
	Camera  config.Camera `json:"camera"`
}

// SaveCamera records cam (added or replaced through the API).
func (s *Store) SaveCamera(cam config.Camera) error {
	return s.putCamera(cam.Name, cameraRecord{Camera: cam})
}

// RemoveCamera records that the camera named name was removed through the API.
func (s *Store) RemoveCamera(name string) error {
	return s.putCamera(name, cameraRecord{Removed: true, Camera: config.Camera{Name: name}})
}

func (s *Store) putCamera(name string, rec cameraRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("store: camera %s: %w", name, err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketCameras).Put([]byte(name), b) }); err != nil {
		return fmt.Errorf("store: camera %s: %w", name, err)
	}
	return nil
}

// CameraOverlay returns the recorded API changes: cameras by name, and the names removed.
func (s *Store) CameraOverlay() (config.Overlay, error) {
	o := config.Overlay{Cameras: map[string]config.Camera{}, Removed: map[string]bool{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCameras).ForEach(func(k, v []byte) error {
			var rec cameraRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("camera %q: %w", k, err)
			}
			if rec.Removed {
				o.Removed[string(k)] = true
			} else {
				o.Cameras[string(k)] = rec.Camera
			}
			return nil
		})
	})
	if err != nil {
		return o, fmt.Errorf("store: camera overlay: %w", err)
	}
	return o, nil
}
