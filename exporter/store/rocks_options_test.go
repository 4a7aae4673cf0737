package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRocksOptionsMemtableBudget(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name      string
		o         RocksOptions
		wantWrite int64 // WriteBufferSize after defaults
		wantErr   string
	}{
		{"zero: 16 MiB memtables", RocksOptions{}, 16 * mib, ""},
		{"budget for one store", RocksOptions{MemtableBudget: 8 * mib}, 4 * mib, ""},
		{"budget split between 6 stores of 2 memtables", RocksOptions{MemtableBudget: 48 * mib, Stores: 6}, 4 * mib, ""},
		{"3 memtables a store", RocksOptions{MemtableBudget: 48 * mib, Stores: 4, MaxWriteBuffers: 3}, 4 * mib, ""},
		{"uneven split rounds down", RocksOptions{MemtableBudget: 32 * mib, Stores: 6}, 32 * mib / 12, ""},
		{"just enough for 1 MiB memtables", RocksOptions{MemtableBudget: 12 * mib, Stores: 6}, mib, ""},
		{"short of 1 MiB memtables: 1 MiB", RocksOptions{MemtableBudget: 12*mib - 1, Stores: 6}, mib, ""},
		{"tiny budget: 1 MiB", RocksOptions{MemtableBudget: 1, Stores: 1000}, mib, ""},
		{"WriteBufferSize wins", RocksOptions{MemtableBudget: 48 * mib, Stores: 6, WriteBufferSize: 3 * mib}, 3 * mib, ""},
		{"Stores without a budget: no effect", RocksOptions{Stores: 6}, 16 * mib, ""},
		{"negative budget", RocksOptions{MemtableBudget: -1}, 0, "MemtableBudget: must be >= 0, got -1"},
		{"negative stores", RocksOptions{MemtableBudget: 8 * mib, Stores: -1}, 0, "Stores: must be >= 0, got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := tt.o.withDefaults()
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %v, want an error with %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case o.WriteBufferSize != tt.wantWrite:
				t.Errorf("WriteBufferSize %d, want %d", o.WriteBufferSize, tt.wantWrite)
			case tt.o.MemtableBudget >= int64(max(tt.o.Stores, 1)*o.MaxWriteBuffers)*mib && tt.o.WriteBufferSize == 0 &&
				int64(max(tt.o.Stores, 1)*o.MaxWriteBuffers)*o.WriteBufferSize > tt.o.MemtableBudget:
				t.Errorf("%d stores × %d memtables of %d bytes exceed the budget %d", tt.o.Stores, o.MaxWriteBuffers, o.WriteBufferSize, tt.o.MemtableBudget)
			}
		})
	}
}

// TestRocksCompression: every level of a store, the last included, is
// compressed with LZ4 (see newRocksConfig), as the OPTIONS file RocksDB
// writes in the store's directory records.
func TestRocksCompression(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRocks(dir, RocksOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	files, err := filepath.Glob(filepath.Join(dir, "OPTIONS-*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no OPTIONS file in %s: %v", dir, err)
	}
	b, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"compression=kLZ4Compression", "bottommost_compression=kLZ4Compression"} {
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			found = found || strings.TrimSpace(line) == want
		}
		if !found {
			t.Errorf("%s does not set %s", files[len(files)-1], want)
		}
	}
}
