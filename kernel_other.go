//go:build !amd64

package autodrop

const useAVX2 = false

func sums3[T Float](x, a, b []T) (dot, ss, pp float64) { return sums3Go(x, a, b) }
