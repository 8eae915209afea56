// Package zone holds the geometry of camera zones and masks: polygons in normalised picture
// coordinates (x and y in [0, 1], origin at the top-left corner, x to the right, y down), their
// validation with precise errors, point-in-polygon and polygon-box overlap, and rasters of polygons on a
// cell grid (the motion field's). It is a leaf: standard library only.
package zone
