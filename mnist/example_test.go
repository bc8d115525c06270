package mnist_test

import (
	"bytes"
	"fmt"

	"github.com/autodrop-go/autodrop/mnist"
)

// ExampleReadIDX encodes a 2×3 byte matrix as gzip-compressed IDX and reads
// it back; the compression is detected from the magic bytes.
func ExampleReadIDX() {
	b, err := mnist.EncodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6}, true)
	if err != nil {
		panic(err)
	}
	idx, err := mnist.ReadIDX(bytes.NewReader(b), "example.idx.gz")
	fmt.Println(idx.Dims, idx.Data, err)

	_, err = mnist.ReadIDX(bytes.NewReader(b[:len(b)/2]), "example.idx.gz")
	fmt.Println(err != nil)
	// Output:
	// [2 3] [1 2 3 4 5 6] <nil>
	// true
}
