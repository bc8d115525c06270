// Package mnist reads IDX files and loads the MNIST handwritten-digit data
// set, locating it without configuration.
//
// The IDX format (used by MNIST) is a 4-byte magic number — two zero bytes,
// an element-type byte and a dimension-count byte — followed by one
// big-endian uint32 per dimension and then the elements in row-major order.
// This package reads IDX files of unsigned bytes (type 0x08), plain or
// gzip-compressed (detected by the gzip magic bytes 1f 8b, not by the file
// name), and checks the magic number, the dimensions and the data length.
package mnist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/autodrop-go/autodrop/internal/atomicfile"
)

// IDX is the content of an IDX file of unsigned bytes.
type IDX struct {
	// Dims are the dimensions, outermost first (for MNIST images: count,
	// rows, columns).
	Dims []int
	// Data holds the product of Dims bytes in row-major order.
	Data []byte
}

// maxIDXBytes bounds the element count accepted from a header, so that a
// corrupt header cannot make the reader allocate unbounded memory.
const maxIDXBytes = 1 << 31

// typeNames names the IDX element types for error messages.
var typeNames = map[byte]string{
	0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16",
	0x0C: "int32", 0x0D: "float32", 0x0E: "float64",
}

// ReadIDX decodes an IDX file of unsigned bytes from r, which may be
// gzip-compressed. The name is used in error messages only (usually the file
// path). It reports a wrong magic number, an unsupported element type, a zero
// or too large dimension, a truncated file and trailing data.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(2)
	if err != nil && len(head) < 2 {
		return nil, fmt.Errorf("%s: empty or truncated file: expected an IDX or gzip header, found %d bytes", name, len(head))
	}
	var src io.Reader = br
	compressed := head[0] == 0x1f && head[1] == 0x8b
	if compressed {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: corrupt gzip header: %v", name, err)
		}
		defer zr.Close()
		src = zr
	}
	wrap := func(what string, err error) error {
		if compressed && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: corrupt gzip data while reading %s: %v", name, what, err)
		}
		return err
	}

	var magic [4]byte
	if n, err := io.ReadFull(src, magic[:]); err != nil {
		if e := wrap("the magic number", err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("%s: truncated: expected a 4-byte IDX magic number, found %d bytes", name, n)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("%s: not an IDX file: magic number % x should start with 00 00", name, magic[:])
	}
	if magic[2] != 0x08 {
		tn, ok := typeNames[magic[2]]
		if !ok {
			tn = "unknown"
		}
		return nil, fmt.Errorf("%s: unsupported IDX element type 0x%02x (%s) in magic number % x; only unsigned byte (0x08) is supported", name, magic[2], tn, magic[:])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, fmt.Errorf("%s: IDX magic number % x declares 0 dimensions", name, magic[:])
	}
	hdr := make([]byte, 4*nd)
	if n, err := io.ReadFull(src, hdr); err != nil {
		if e := wrap("the dimensions", err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("%s: truncated header: expected %d dimension bytes (%d dimensions), found %d", name, 4*nd, nd, n)
	}
	dims := make([]int, nd)
	size := 1
	for i := range dims {
		d := int(binary.BigEndian.Uint32(hdr[4*i:]))
		if d == 0 {
			return nil, fmt.Errorf("%s: dimension %d of %d is 0", name, i, nd)
		}
		dims[i] = d
		if size > maxIDXBytes/d {
			return nil, fmt.Errorf("%s: dimensions %v describe more than %d bytes; the header is corrupt", name, dims[:i+1], maxIDXBytes)
		}
		size *= d
	}
	// Grow as data arrives rather than trusting the header with one huge
	// allocation; read one byte more than needed to detect trailing data.
	var buf bytes.Buffer
	buf.Grow(min(size, 64<<20))
	n, err := io.CopyN(&buf, src, int64(size)+1)
	if compressed && errors.Is(err, io.ErrUnexpectedEOF) {
		if n >= int64(size) {
			return nil, fmt.Errorf("%s: truncated gzip stream: all %d data bytes for dimensions %v were decompressed but the gzip trailer (checksum and length) is missing", name, size, dims)
		}
		return nil, fmt.Errorf("%s: truncated gzip stream: expected %d data bytes for dimensions %v, the compressed data ended after %d", name, size, dims, n)
	}
	if err != nil && err != io.EOF {
		if e := wrap("the data", err); e != err {
			return nil, e
		}
		return nil, fmt.Errorf("%s: truncated: expected %d data bytes for dimensions %v, found %d", name, size, dims, n)
	}
	if n < int64(size) {
		return nil, fmt.Errorf("%s: truncated: expected %d data bytes for dimensions %v, found %d", name, size, dims, n)
	}
	if n > int64(size) {
		return nil, fmt.Errorf("%s: trailing data: expected exactly %d data bytes for dimensions %v, found more", name, size, dims)
	}
	return &IDX{Dims: dims, Data: buf.Bytes()[:size:size]}, nil
}

// ReadIDXFile reads an IDX file of unsigned bytes, plain or gzip-compressed.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadIDX(f, path)
}

// EncodeIDX returns the IDX encoding of data with the given dimensions,
// gzip-compressed if compress is true. It fails if the product of dims is not
// len(data) or a dimension is out of range.
func EncodeIDX(dims []int, data []byte, compress bool) ([]byte, error) {
	if len(dims) == 0 || len(dims) > 255 {
		return nil, fmt.Errorf("mnist: EncodeIDX: %d dimensions; want 1 to 255", len(dims))
	}
	size := 1
	for i, d := range dims {
		if d <= 0 || d > 1<<31 {
			return nil, fmt.Errorf("mnist: EncodeIDX: dimension %d is %d; want 1 to 2^31", i, d)
		}
		size *= d
	}
	if size != len(data) {
		return nil, fmt.Errorf("mnist: EncodeIDX: dimensions %v need %d bytes, data has %d", dims, size, len(data))
	}
	var raw bytes.Buffer
	raw.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		raw.Write(binary.BigEndian.AppendUint32(nil, uint32(d)))
	}
	raw.Write(data)
	if !compress {
		return raw.Bytes(), nil
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}

// WriteIDXFile writes data with the given dimensions as an IDX file at path,
// gzip-compressed if compress is true. The file is written atomically: to a
// temporary file in the same directory, synced, then renamed over path.
func WriteIDXFile(path string, dims []int, data []byte, compress bool) error {
	b, err := EncodeIDX(dims, data, compress)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}
