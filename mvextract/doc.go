// Package mvextract turns decoded frames into compressed-domain features in plain Go: it parses FFmpeg's
// motion-vector side data, builds dense motion fields, computes residual frames by motion compensation,
// and assembles fixed-size clips for the model. It allocates nothing per frame in the steady state.
package mvextract
