// Package projection translates between the public apps.cozystack.io objects
// and the backend objects that store them. Every function here is pure:
// objects in, objects out, no I/O. Storage code fetches and writes the
// backend objects and delegates the translation to this package. The names
// and reserved keys it gives backend objects are backendnames'.
package projection
