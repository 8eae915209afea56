// Package track finds and follows moving objects in the compressed domain, from a frame's motion
// vectors alone (no RGB decoding), and relates them to a camera's zones and masks:
//
//   - masks: the motion inside a camera's mask polygons is removed from a frame's features
//     (mvextract.Features.Suppress) before the gate, the model and the tracker see it;
//   - moving cells: the cells of the motion field whose displacement, after removing the frame's global
//     motion (a pan), exceeds a threshold;
//   - zones touched: which zones hold moving cells in a frame (ZoneSet, a bit mask per frame);
//   - objects: connected components of moving blocks after a morphological cleanup, as boxes;
//   - tracks: boxes associated from frame to frame (IoU, then centroid distance) with an id, direction,
//     speed and dwell, and the enter, leave and dwell events of tracks in zones.
//   - classes: each track's compressed-domain features, summed over its life (Track.Features:
//     box size and shape, speed, the spread of its vectors, the residual inside its box), give it an
//     object class, person, vehicle or other, by a small model trained on real footage (Classifier;
//     the shipped one is embedded from models/trackclass).
//
// It is pure Go and imports only the motion-vector stage (mvextract), the zone geometry leaf and the
// embedded class model.
package track
