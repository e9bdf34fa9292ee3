package chhttp

import (
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// HTTP compression, as ClickHouse accepts it: a request body in the
// Content-Encoding the client names, a response in the first encoding of
// Accept-Encoding obsplane has when enable_http_compression=1; and
// ClickHouse's own block framing (compress=1 for the response,
// decompress=1 for the request), which clickhouse-go uses for lz4 and zstd.

// decodeBody wraps r to undo the request's Content-Encoding. Errors reading
// from the result are *Exception with the codec's ClickHouse code.
func decodeBody(r io.Reader, encoding string) (io.Reader, func(), error) {
	enc := strings.ToLower(strings.TrimSpace(encoding))
	noop := func() {}
	switch enc {
	case "", "identity", "none":
		return r, noop, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, noop, codecError(codeZlibInflateFailed, enc, err)
		}
		return &codecReader{zr, codeZlibInflateFailed, enc}, func() { zr.Close() }, nil
	case "deflate":
		zr, err := zlib.NewReader(r)
		if err != nil {
			return nil, noop, codecError(codeZlibInflateFailed, enc, err)
		}
		return &codecReader{zr, codeZlibInflateFailed, enc}, func() { zr.Close() }, nil
	case "br":
		return &codecReader{brotli.NewReader(r), codeBrotliReadFailed, enc}, noop, nil
	case "zstd":
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return nil, noop, codecError(codeZstdDecoderFailed, enc, err)
		}
		return &codecReader{zr, codeZstdDecoderFailed, enc}, zr.Close, nil
	case "lz4":
		return &codecReader{lz4.NewReader(r), codeLZ4DecoderFailed, enc}, noop, nil
	}
	return nil, noop, exception(codeUnknownCompression, "Unknown HTTP compression method '%s' in Content-Encoding (gzip, deflate, br, zstd and lz4 are supported)", encoding)
}

// decodeNative wraps r to read ClickHouse's compressed blocks (decompress=1).
func decodeNative(r io.Reader) io.Reader {
	return &codecReader{compress.NewReader(r), codeCannotDecompress, "native"}
}

func codecError(code int, enc string, err error) *Exception {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return exception(code, "Cannot decompress the request body (%s): it is truncated", enc)
	}
	return exception(code, "Cannot decompress the request body (%s): %v", enc, err)
}

// codecReader turns a decoder's errors into ClickHouse exceptions, leaving
// the errors of the reader below (a client too slow, a body too large) as
// they are.
type codecReader struct {
	r    io.Reader
	code int
	enc  string
}

func (c *codecReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.enc == "native" && err != nil && errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
		strings.Contains(err.Error(), "header") {
		// The body ended between two blocks.
		return n, io.EOF
	}
	if err != nil && err != io.EOF {
		var e *Exception
		if errors.As(err, &e) {
			return n, err
		}
		var se *bodyError
		if errors.As(err, &se) {
			return n, err
		}
		return n, codecError(c.code, c.enc, err)
	}
	return n, err
}

// responseEncoding picks the encoding for a response from Accept-Encoding.
func responseEncoding(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		name := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch name {
		case "gzip", "deflate", "br", "zstd", "lz4":
			return name
		}
	}
	return ""
}

// encoder compresses a response body; Close flushes it.
func encoder(w io.Writer, enc string, level int) (io.WriteCloser, error) {
	switch enc {
	case "gzip":
		if level < gzip.HuffmanOnly || level > gzip.BestCompression {
			level = gzip.DefaultCompression
		}
		return gzip.NewWriterLevel(w, level)
	case "deflate":
		if level < zlib.HuffmanOnly || level > zlib.BestCompression {
			level = zlib.DefaultCompression
		}
		return zlib.NewWriterLevel(w, level)
	case "br":
		return brotli.NewWriter(w), nil
	case "zstd":
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	case "lz4":
		return lz4.NewWriter(w), nil
	}
	return nil, fmt.Errorf("no encoder for %q", enc)
}

// nativeBlockSize is the most ClickHouse puts in one compressed block.
const nativeBlockSize = 1 << 20

// nativeCompressor frames a response in ClickHouse's compressed blocks
// (compress=1), LZ4 unless network_compression_method says ZSTD.
type nativeCompressor struct {
	w io.Writer
	c *compress.Writer
}

func newNativeCompressor(w io.Writer, method string) *nativeCompressor {
	m := compress.LZ4
	if strings.EqualFold(method, "zstd") {
		m = compress.ZSTD
	}
	return &nativeCompressor{w: w, c: compress.NewWriter(compress.LevelZero, m)}
}

func (n *nativeCompressor) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p
		if len(chunk) > nativeBlockSize {
			chunk = chunk[:nativeBlockSize]
		}
		if err := n.c.Compress(chunk); err != nil {
			return written, err
		}
		if _, err := n.w.Write(n.c.Data); err != nil {
			return written, err
		}
		written += len(chunk)
		p = p[len(chunk):]
	}
	return written, nil
}
