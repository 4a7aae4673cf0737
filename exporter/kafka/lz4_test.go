package kafka

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/loadgen"
)

// requestLogs returns about n bytes of the load generator's JSON events, one
// per line: what a record batch of the demo holds.
func requestLogs(n int) []byte {
	g := loadgen.New(loadgen.Config{Seed: 7})
	var b []byte
	for t := int64(1_700_000_000_000); len(b) < n; t += 25 {
		b = g.AppendJSON(b, g.Next(t))
		b = append(b, '\n')
	}
	return b[:n]
}

// frame compresses data with pierrec/lz4's Writer and options.
func frame(t testing.TB, data []byte, opts ...lz4.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if err := w.Apply(opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// franzLZ4 compresses data as franz-go's producer does.
func franzLZ4(t testing.TB, data []byte) []byte {
	t.Helper()
	c, err := kgo.DefaultCompressor(kgo.Lz4Compression())
	if err != nil {
		t.Fatal(err)
	}
	out, codec := c.Compress(new(bytes.Buffer), data)
	if codec != kgo.CodecLz4 {
		t.Fatalf("franz-go compressed with codec %v", codec)
	}
	return bytes.Clone(out)
}

// reference decodes src with pierrec/lz4's streaming Reader, which also checks
// the frame's checksums; it reads at most 16 MiB and a byte.
func reference(src []byte) ([]byte, error) {
	return io.ReadAll(io.LimitReader(lz4.NewReader(bytes.NewReader(src)), 16<<20+1))
}

func TestDecompressLZ4Frames(t *testing.T) {
	random := make([]byte, 300<<10) // incompressible: stored as raw blocks
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	inputs := map[string][]byte{
		"empty":      nil,
		"one byte":   {'x'},
		"100 B":      requestLogs(100),
		"70 KiB":     requestLogs(70 << 10),
		"1 MiB":      requestLogs(1 << 20),
		"5 MiB":      requestLogs(5 << 20),
		"random":     random,
		"mixed":      append(requestLogs(200<<10), random[:100<<10]...),
		"zeros 2MiB": make([]byte, 2<<20),
	}
	options := map[string][]lz4.Option{
		"defaults":        nil,
		"64 KiB blocks":   {lz4.BlockSizeOption(lz4.Block64Kb)},
		"256 KiB blocks":  {lz4.BlockSizeOption(lz4.Block256Kb)},
		"1 MiB blocks":    {lz4.BlockSizeOption(lz4.Block1Mb)},
		"block checksums": {lz4.BlockSizeOption(lz4.Block64Kb), lz4.BlockChecksumOption(true)},
		"no checksum":     {lz4.ChecksumOption(false)},
		"high level":      {lz4.CompressionLevelOption(lz4.Level9)},
	}
	for name, data := range inputs {
		frames := map[string][]byte{"franz-go": franzLZ4(t, data)}
		for oname, opts := range options {
			frames[oname] = frame(t, data, opts...)
		}
		frames["content size"] = frame(t, data, lz4.SizeOption(uint64(len(data))))
		for fname, src := range frames {
			t.Run(name+"/"+fname, func(t *testing.T) {
				want, err := reference(src)
				if err != nil {
					t.Fatalf("reference: %v", err)
				}
				if !bytes.Equal(want, data) {
					t.Fatal("reference decoding differs from the input")
				}
				// A fresh decompressor guesses 4:1; a warm one guesses from a
				// batch of another ratio; 1 byte forces growth from nothing.
				warm := NewDecompressor(MaxBatchBytes)
				warm.Decompress(frame(t, random[:1000]), kgo.CodecLz4)
				for _, d := range []*Decompressor{NewDecompressor(MaxBatchBytes), warm} {
					got, err := d.Decompress(src, kgo.CodecLz4)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("got %d bytes, want %d (the input)", len(got), len(data))
					}
				}
				got, err := decodeLZ4(src, 1, MaxBatchBytes)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("from a 1-byte guess: %d bytes, %v; want %d", len(got), err, len(data))
				}
			})
		}
	}
}

func TestDecompressLZ4Concatenated(t *testing.T) {
	a, b := requestLogs(10<<10), requestLogs(3<<10)
	skippable := []byte{0x5A, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}
	src := append(append(append(frame(t, a), skippable...), frame(t, b)...), skippable...)
	got, err := NewDecompressor(MaxBatchBytes).Decompress(src, kgo.CodecLz4)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(bytes.Clone(a), b...); !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
}

// A frame of linked blocks (which pierrec/lz4 does not write, but other
// producers may) has blocks that copy from the blocks before them.
func TestDecompressLZ4LinkedBlocks(t *testing.T) {
	first := []byte("0123456789abcdef")
	// Block 2: no literals, then a match 8 back of 12 bytes, reaching into
	// block 1 ("89abcdef" then the 4 bytes it has just written, "89ab"); then
	// the 5 last bytes as literals, as the block format requires.
	second := []byte{0x08, 8, 0, 0x50, 'V', 'W', 'X', 'Y', 'Z'}
	want := append(bytes.Clone(first), "89abcdef89abVWXYZ"...)
	build := func(flg byte) []byte {
		src := []byte{0x04, 0x22, 0x4D, 0x18, flg, 0x40, 0}
		src = append(src, byte(len(first)), 0, 0, 0x80) // raw block
		src = append(src, first...)
		src = append(src, byte(len(second)), 0, 0, 0)
		src = append(src, second...)
		return append(src, 0, 0, 0, 0)
	}
	got, err := NewDecompressor(MaxBatchBytes).Decompress(build(0x40), kgo.CodecLz4) // linked
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	// The same blocks marked independent: block 2 refers to nothing before it.
	if _, err := NewDecompressor(MaxBatchBytes).Decompress(build(0x60), kgo.CodecLz4); !errors.Is(err, errLZ4) {
		t.Fatalf("independent blocks: got %v, want a malformed frame", err)
	}
}

func TestDecompressLZ4Limit(t *testing.T) {
	data := requestLogs(1 << 20)
	for _, src := range [][]byte{franzLZ4(t, data), frame(t, data, lz4.SizeOption(uint64(len(data)))), frame(t, make([]byte, 1<<20), lz4.BlockSizeOption(lz4.Block64Kb))} {
		d := NewDecompressor(1<<20 - 1)
		if _, err := d.Decompress(src, kgo.CodecLz4); !errors.Is(err, kgo.ErrMaxDecompress) {
			t.Errorf("a batch 1 byte over the limit: got %v, want ErrMaxDecompress", err)
		}
		if got, err := NewDecompressor(1<<20).Decompress(src, kgo.CodecLz4); err != nil || len(got) != 1<<20 {
			t.Errorf("a batch at the limit: %d bytes, %v", len(got), err)
		}
	}
}

func TestDecompressLZ4Malformed(t *testing.T) {
	good := frame(t, requestLogs(100<<10), lz4.BlockSizeOption(lz4.Block64Kb), lz4.BlockChecksumOption(true))
	cases := map[string][]byte{
		"not lz4":            []byte("hello, world"),
		"truncated magic":    good[:3],
		"truncated header":   good[:6],
		"truncated block":    good[:len(good)/2],
		"no end mark":        good[:len(good)-8],
		"bad version":        append([]byte{0x04, 0x22, 0x4D, 0x18, 0x00}, good[5:]...),
		"bad block size":     append([]byte{0x04, 0x22, 0x4D, 0x18, 0x60, 0x30}, good[6:]...),
		"dictionary":         append([]byte{0x04, 0x22, 0x4D, 0x18, 0x61, 0x40, 0, 0, 0, 0}, good[7:]...),
		"block too long":     {0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0, 0xFF, 0xFF, 0x01, 0x00},
		"skippable too long": {0x50, 0x2A, 0x4D, 0x18, 9, 0, 0, 0, 1},
		"trailing bytes":     append(bytes.Clone(good), 1, 2),
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := reference(src); err == nil && name != "trailing bytes" {
				t.Fatalf("the reference decoder takes it: not a malformed case")
			}
			if got, err := NewDecompressor(MaxBatchBytes).Decompress(src, kgo.CodecLz4); err == nil {
				t.Fatalf("decoded %d bytes, want an error", len(got))
			}
		})
	}
}

// Other codecs go to franz-go's decompressor.
func TestDecompressOtherCodecs(t *testing.T) {
	data := requestLogs(200 << 10)
	for _, codec := range []kgo.CompressionCodec{kgo.GzipCompression(), kgo.SnappyCompression(), kgo.ZstdCompression()} {
		c, err := kgo.DefaultCompressor(codec)
		if err != nil {
			t.Fatal(err)
		}
		src, typ := c.Compress(new(bytes.Buffer), data)
		got, err := NewDecompressor(MaxBatchBytes).Decompress(src, typ)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("codec %v: %d bytes, %v", typ, len(got), err)
		}
	}
	if got, err := NewDecompressor(MaxBatchBytes).Decompress(data, kgo.CodecNone); err != nil || !bytes.Equal(got, data) {
		t.Errorf("no codec: %d bytes, %v", len(got), err)
	}
}

// FuzzDecompressLZ4: no input panics, and whatever pierrec/lz4's Reader
// decodes (it checks the checksums this decoder skips) decodes the same here.
func FuzzDecompressLZ4(f *testing.F) {
	data := requestLogs(20 << 10)
	for _, src := range [][]byte{
		franzLZ4(f, data),
		frame(f, data, lz4.BlockSizeOption(lz4.Block64Kb), lz4.BlockChecksumOption(true)),
		frame(f, data[:100], lz4.SizeOption(100)),
		frame(f, nil),
	} {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		got, err := decodeLZ4(src, 64, 1<<20)
		want, werr := reference(src)
		if werr == nil && len(want) <= 1<<20 && (err != nil || !bytes.Equal(got, want)) {
			t.Fatalf("the reference decodes %d bytes; here %d bytes, %v", len(want), len(got), err)
		}
	})
}

// BenchmarkDecompress decodes a 1 MiB batch of the demo's events compressed
// as franz-go's producer does (4 MiB blocks), with franz-go's decompressor and
// with kwindow's. B/op is what a batch allocates; the pool of franz-go's LZ4
// readers, each with its 4 MiB block buffer, is not in it.
func BenchmarkDecompress(b *testing.B) {
	data := requestLogs(1 << 20)
	src := franzLZ4(b, data)
	for _, d := range []struct {
		name string
		d    kgo.Decompressor
	}{{"franz-go", kgo.DefaultDecompressor()}, {"kwindow", NewDecompressor(MaxBatchBytes)}} {
		b.Run(fmt.Sprintf("%s/ratio=%.1f", d.name, float64(len(data))/float64(len(src))), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := d.d.Decompress(src, kgo.CodecLz4)
				if err != nil || len(out) != len(data) {
					b.Fatal(len(out), err)
				}
			}
		})
	}
}

// Every client kwindow builds decodes LZ4 with the Decompressor.
func TestClientOptsDecompressor(t *testing.T) {
	opts, err := ClientOpts(config.Kafka{Brokers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if got := cl.OptValue(kgo.WithDecompressor); got == nil {
		t.Fatal("OptValue: no decompressor")
	} else if _, ok := got.(*Decompressor); !ok {
		t.Fatalf("the client decompresses with %T, want *kafka.Decompressor", got)
	}
}
