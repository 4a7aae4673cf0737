package store

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// RocksOptions tunes OpenRocks. The zero value gives the defaults, sized for
// a 2-core box with modest memory running one store per input partition:
// each store may hold MaxWriteBuffers × WriteBufferSize (32 MiB) of
// memtables, and all of them share one block cache when given BlockCache.
// A process running several stores sets MemtableBudget and Stores instead, so
// that their memtables together stay within one budget.
type RocksOptions struct {
	// BlockCache is shared with the process's other stores, so that read
	// memory is bounded per process, not per partition. Nil gives the store
	// a private cache of BlockCacheSize bytes.
	BlockCache *BlockCache

	// BlockCacheSize is the capacity in bytes of the private cache used when
	// BlockCache is nil. Default 64 MiB: the recent windows that queries and
	// the engine's cache misses touch fit, and index and filter blocks are
	// charged to it too (see OpenRocks), so it is the whole read budget.
	BlockCacheSize int64

	// WriteBufferSize is the size in bytes of one memtable. Default 16 MiB
	// (without MemtableBudget): many commit intervals of dirty aggregates fit
	// before a flush, and each flush writes an L0 file of about that size.
	WriteBufferSize int64

	// MemtableBudget, when WriteBufferSize is 0, is the memtable memory in
	// bytes that Stores stores share: each store's MaxWriteBuffers memtables
	// get an equal share of it, and no memtable less than 1 MiB (so Stores ×
	// MaxWriteBuffers MiB is the least it can be). RocksDB can share one budget
	// between databases dynamically (a WriteBufferManager), but neither
	// RocksDB 7.8's C API nor grocksdb exposes it, so the budget is split up
	// front: a process running fewer than Stores stores uses less of it.
	MemtableBudget int64

	// Stores is how many stores share MemtableBudget. Default 1.
	Stores int

	// MaxWriteBuffers is how many memtables, the active one included, may
	// exist before writes stall. Default 2: one takes writes while the other
	// flushes, capping unflushed memory at 32 MiB per store. More would only
	// absorb bursts that two cores cannot flush faster anyway.
	MaxWriteBuffers int

	// MaxBackgroundJobs bounds concurrent flushes and compactions. Default 2,
	// one per core. RocksDB's thread pools belong to its default Env, which
	// every store of the process shares, so this also caps the process's
	// background threads rather than adding 2 per partition.
	MaxBackgroundJobs int

	// BloomBitsPerKey sizes the whole-key Bloom filter of each table file.
	// Default 10, about 1 % false positives: a Get for a window that was
	// never stored (the engine looking up a new window) usually costs no
	// read. Range scans do not consult it.
	BloomBitsPerKey float64

	// WAL turns on RocksDB's write-ahead log (unsynced), so that what was
	// written survives a crash of the process; see Rocks. Default off (tests and
	// benchmarks of the store alone); the stream runtime turns it on.
	WAL bool
}

const (
	defaultBlockCacheSize    = 64 << 20
	defaultWriteBufferSize   = 16 << 20
	defaultMaxWriteBuffers   = 2
	defaultMaxBackgroundJobs = 2
	defaultBloomBitsPerKey   = 10
	minBudgetWriteBuffer     = 1 << 20
)

// withDefaults checks o and fills in the defaults of its zero fields.
func (o RocksOptions) withDefaults() (RocksOptions, error) {
	var errs []error
	positive := func(name string, v, def int64) int64 {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s: must be >= 0, got %d", name, v))
		}
		if v <= 0 {
			return def
		}
		return v
	}
	o.BlockCacheSize = positive("BlockCacheSize", o.BlockCacheSize, defaultBlockCacheSize)
	o.MaxWriteBuffers = int(positive("MaxWriteBuffers", int64(o.MaxWriteBuffers), defaultMaxWriteBuffers))
	o.Stores = int(positive("Stores", int64(o.Stores), 1))
	o.MemtableBudget = positive("MemtableBudget", o.MemtableBudget, 0)
	if o.WriteBufferSize == 0 && o.MemtableBudget > 0 {
		o.WriteBufferSize = max(o.MemtableBudget/int64(o.Stores)/int64(o.MaxWriteBuffers), minBudgetWriteBuffer)
	}
	o.WriteBufferSize = positive("WriteBufferSize", o.WriteBufferSize, defaultWriteBufferSize)
	o.MaxBackgroundJobs = int(positive("MaxBackgroundJobs", int64(o.MaxBackgroundJobs), defaultMaxBackgroundJobs))
	switch {
	case math.IsNaN(o.BloomBitsPerKey) || o.BloomBitsPerKey < 0 || o.BloomBitsPerKey > 100:
		errs = append(errs, fmt.Errorf("BloomBitsPerKey: must be in [0, 100], got %v", o.BloomBitsPerKey))
	case o.BloomBitsPerKey == 0:
		o.BloomBitsPerKey = defaultBloomBitsPerKey
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("store: rocks options: %w", err)
	}
	return o, nil
}

// BlockCache is an LRU cache of RocksDB blocks that several stores share.
// RocksDB reference-counts the cache, so Close may come before the stores
// using it close: it then lives until the last of them does.
type BlockCache struct {
	mu sync.Mutex
	c  *grocksdb.Cache // nil after Close
}

// NewBlockCache returns a cache holding up to capacity bytes.
func NewBlockCache(capacity int64) *BlockCache {
	return &BlockCache{c: grocksdb.NewLRUCache(uint64(max(capacity, 0)))}
}

// Usage reports the bytes the cache holds, 0 after Close.
func (c *BlockCache) Usage() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return 0
	}
	return c.c.GetUsage()
}

// Close releases the caller's reference to the cache. It is idempotent;
// OpenRocks refuses a closed cache.
func (c *BlockCache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil {
		c.c.Destroy()
		c.c = nil
	}
}

// configure sets the cache on table options while c cannot be closed.
func (c *BlockCache) configure(t *grocksdb.BlockBasedTableOptions) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return errors.New("store: rocks options: BlockCache: closed")
	}
	t.SetBlockCache(c.c)
	return nil
}

// rocksConfig is the native configuration of one store; destroy frees it.
type rocksConfig struct {
	opts  *grocksdb.Options
	table *grocksdb.BlockBasedTableOptions
	cache *BlockCache // private, nil when shared
}

// newRocksConfig builds the RocksDB options from o (defaults applied). Beyond
// RocksOptions it fixes what no deployment should need to change:
//   - LZ4 on every level, the last included. Queries read most of their
//     blocks from table files, not the block cache (each one-key query of
//     the rollup benchmark asks for another key), and decompressing ZSTD was
//     the largest cost left in them: 27-37 % of their instructions, against
//     6 % for LZ4 (the 30-day query: 17.4 M instructions with ZSTD, 11.7 M
//     with LZ4). ZSTD on the last level made the store smaller: the rollup
//     benchmark's 30 days of 1,000 keys take 361-375 MiB on disk with LZ4,
//     262 MiB with it (+38-43 %); LZ4HC would take 352 MiB for the same
//     reads, but compresses several times slower, on the compaction threads
//     the engine shares.
//   - Index and filter blocks live in the block cache (L0's pinned), so the
//     cache bounds read memory instead of growing with the data. They are
//     partitioned (a two-level index, 4 KiB partitions, the top level pinned):
//     a table file's whole index (1.8 MB for each 65 MB file of the rollup
//     benchmark's store) is larger than a shard of the cache (1 MiB of the
//     default 64), so it was evicted after each use and read again, and
//     parsed, by the next query.
//   - Dynamic level sizes, which keep space amplification near 1.1 as old
//     windows are deleted.
//   - At most 4 info LOG files of 4 MiB: a long-running daemon must not fill
//     its state directory with logs.
func newRocksConfig(o RocksOptions) (*rocksConfig, error) {
	cfg := &rocksConfig{
		opts:  grocksdb.NewDefaultOptions(),
		table: grocksdb.NewDefaultBlockBasedTableOptions(),
	}
	cache := o.BlockCache
	if cache == nil {
		cache = NewBlockCache(o.BlockCacheSize)
		cfg.cache = cache
	}
	if err := cache.configure(cfg.table); err != nil {
		cfg.destroy()
		return nil, err
	}
	cfg.table.SetFilterPolicy(grocksdb.NewBloomFilterFull(o.BloomBitsPerKey))
	cfg.table.SetCacheIndexAndFilterBlocks(true)
	cfg.table.SetPinL0FilterAndIndexBlocksInCache(true)
	cfg.table.SetIndexType(grocksdb.KTwoLevelIndexSearchIndexType)
	cfg.table.SetPartitionFilters(true)
	cfg.table.SetMetadataBlockSize(4096)
	cfg.table.SetPinTopLevelIndexAndFilter(true)

	opts := cfg.opts
	opts.SetCreateIfMissing(true)
	opts.SetBlockBasedTableFactory(cfg.table)
	opts.SetWriteBufferSize(uint64(o.WriteBufferSize))
	opts.SetMaxWriteBufferNumber(o.MaxWriteBuffers)
	opts.SetMaxBackgroundJobs(o.MaxBackgroundJobs)
	opts.SetCompression(grocksdb.LZ4Compression)
	opts.SetBottommostCompression(grocksdb.LZ4Compression)
	opts.SetLevelCompactionDynamicLevelBytes(true)
	opts.SetKeepLogFileNum(4)
	opts.SetMaxLogFileSize(4 << 20)
	return cfg, nil
}

func (cfg *rocksConfig) destroy() {
	cfg.opts.Destroy()
	cfg.table.Destroy() // also frees the filter policy it owns
	if cfg.cache != nil {
		cfg.cache.Close()
	}
}
