package store

import (
	"fmt"
	"os"
	"sync"

	"github.com/linxGnu/grocksdb"
)

// checkpointKey holds the encoded Checkpoint. Every data key starts with a
// non-empty aggregation name without 0x00, so a key starting with 0x00 is
// outside every aggregation. It lives in the same column family as the data
// on purpose: see Rocks.
var checkpointKey = []byte("\x00checkpoint")

// Rocks is a Store in one RocksDB database, one directory per input
// partition. It is safe for concurrent use: RocksDB serves readers alongside
// the writer, each scan reads one implicit snapshot, and Close waits for
// running calls before freeing anything native.
//
// Durability. The checkpoint travels in the same WriteBatch as the data it
// describes, so the store always reopens holding a consistent pair of data and
// checkpoint, and the changelog is replayed from there. With RocksOptions.WAL
// (what the stream runtime uses) every Write also goes to RocksDB's write-ahead
// log, unsynced: a process that crashes, even with SIGKILL, loses nothing it
// wrote, and its restart replays only the changelog written after its last
// Write. (Without the log, memtables reach disk only when they fill, so a crash
// lost minutes of writes and every restart replayed the changelogs from their
// start.) An operating system crash can lose the unsynced tail of the log; the
// store then reopens at an older consistent point. With a single column family,
// memtables flush in write order, so the flushed state is always a prefix of the
// Writes: never half a batch, never data without its checkpoint. Close flushes
// the memtables, so a clean restart replays nothing either way.
type Rocks struct {
	dir string
	cfg *rocksConfig
	db  *grocksdb.DB
	ro  *grocksdb.ReadOptions  // for Get; shared read-only by readers
	wo  *grocksdb.WriteOptions // guarded by writeMu

	life lifecycle

	writeMu sync.Mutex
	wb      *grocksdb.WriteBatch // reused by every Write
	cpBuf   []byte
}

var _ Store = (*Rocks)(nil)

// OpenRocks opens, or creates, the store in dir.
func OpenRocks(dir string, opts RocksOptions) (*Rocks, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	cfg, err := newRocksConfig(opts)
	if err != nil {
		return nil, err
	}
	db, err := grocksdb.OpenDb(cfg.opts, dir)
	if err != nil {
		cfg.destroy()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	r := &Rocks{
		dir: dir,
		cfg: cfg,
		db:  db,
		ro:  grocksdb.NewDefaultReadOptions(),
		wo:  grocksdb.NewDefaultWriteOptions(),
		wb:  grocksdb.NewWriteBatch(),
	}
	r.wo.DisableWAL(!opts.WAL)
	r.life.init()
	if _, _, err := r.Checkpoint(); err != nil {
		r.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	return r, nil
}

// Write implements Store with one RocksDB WriteBatch.
func (r *Rocks) Write(b *Batch) error {
	if !r.life.enter() {
		return ErrClosed
	}
	defer r.life.exit()
	if b.err != nil {
		return fmt.Errorf("store: write: %w", b.err)
	}
	if b.empty() {
		return nil
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	r.wb.Clear()
	b.each(func(del bool, key, value []byte) {
		if del {
			r.wb.Delete(key)
		} else {
			r.wb.Put(key, value)
		}
	})
	if b.hasCP {
		r.cpBuf = appendCheckpoint(r.cpBuf[:0], b.cp)
		r.wb.Put(checkpointKey, r.cpBuf)
	}
	if err := r.db.Write(r.wo, r.wb); err != nil {
		return fmt.Errorf("store: write %s: %w", r.dir, err)
	}
	return nil
}

// Get implements Store.
func (r *Rocks) Get(k Key) ([]byte, bool, error) {
	if !r.life.enter() {
		return nil, false, ErrClosed
	}
	defer r.life.exit()
	if err := k.check(); err != nil {
		return nil, false, err
	}
	return r.get(k.Append(nil))
}

func (r *Rocks) get(key []byte) ([]byte, bool, error) {
	h, err := r.db.GetPinned(r.ro, key)
	if err != nil {
		return nil, false, fmt.Errorf("store: get %s: %w", r.dir, err)
	}
	if !h.Exists() {
		return nil, false, nil
	}
	defer h.Destroy()
	data := h.Data()
	return append(make([]byte, 0, len(data)), data...), true, nil
}

// Range implements Store.
func (r *Rocks) Range(agg string, group []byte, from, to int64, fn func(Entry) bool) error {
	if !r.life.enter() {
		return ErrClosed
	}
	defer r.life.exit()
	if err := (Key{Agg: agg, Group: group}).check(); err != nil {
		return err
	}
	if from >= to {
		return nil
	}
	lo, hi := rangeBounds(agg, group, from, to)
	return r.scan(hi, func(c cursor) error { return scanRange(c, agg, lo, hi, fn) })
}

// Window implements Store.
func (r *Rocks) Window(agg string, start int64, fn func(Entry) bool) error {
	if !r.life.enter() {
		return ErrClosed
	}
	defer r.life.exit()
	if err := checkAgg(agg); err != nil {
		return err
	}
	lo, hi := aggBounds(agg)
	return r.scan(hi, func(c cursor) error { return scanWindow(c, agg, lo, hi, start, fn) })
}

// Groups implements Store.
func (r *Rocks) Groups(agg string, fn func(group []byte) bool) error {
	if !r.life.enter() {
		return ErrClosed
	}
	defer r.life.exit()
	if err := checkAgg(agg); err != nil {
		return err
	}
	lo, hi := aggBounds(agg)
	return r.scan(hi, func(c cursor) error { return scanGroups(c, agg, lo, hi, fn) })
}

// Windows implements Store.
func (r *Rocks) Windows(agg string, from, to int64, fn func(Entry) bool) error {
	if !r.life.enter() {
		return ErrClosed
	}
	defer r.life.exit()
	if err := checkAgg(agg); err != nil {
		return err
	}
	if from >= to {
		return nil
	}
	lo, hi := aggBounds(agg)
	return r.scan(hi, func(c cursor) error { return scanWindows(c, agg, lo, hi, from, to, fn) })
}

// deleteChunk bounds the WriteBatch of DeleteBefore, which need not be
// atomic: a retention pass cut short is finished by the next one.
const deleteChunk = 4096

// DeleteBefore implements Store with point deletes, written in chunks. Range
// tombstones would save the scan but not the count, and many of them slow
// every read until compaction.
func (r *Rocks) DeleteBefore(agg string, before int64) (int, error) {
	if !r.life.enter() {
		return 0, ErrClosed
	}
	defer r.life.exit()
	if err := checkAgg(agg); err != nil {
		return 0, err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	lo, hi := aggBounds(agg)
	deleted := 0
	var werr error
	flush := func() {
		if werr == nil && r.wb.Count() > 0 {
			if werr = r.db.Write(r.wo, r.wb); werr == nil {
				deleted += r.wb.Count()
			}
		}
		r.wb.Clear()
	}
	r.wb.Clear()
	err := r.scan(hi, func(c cursor) error {
		return scanBefore(c, agg, lo, hi, before, func(key []byte) {
			r.wb.Delete(key)
			if r.wb.Count() == deleteChunk {
				flush()
			}
		})
	})
	flush()
	if err == nil && werr != nil {
		err = fmt.Errorf("store: delete %s: %w", r.dir, werr)
	}
	return deleted, err
}

// scan runs fn over an iterator bounded above by hi.
func (r *Rocks) scan(hi []byte, fn func(cursor) error) error {
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	ro.SetIterateUpperBound(hi) // retained by ro until Destroy
	it := r.db.NewIterator(ro)
	defer it.Close() // before ro.Destroy: the iterator points at ro's bound
	c := newRocksCursor(it)
	defer c.close()
	if err := fn(c); err != nil {
		return err
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("store: scan %s: %w", r.dir, err)
	}
	return nil
}

// Checkpoint implements Store.
func (r *Rocks) Checkpoint() (Checkpoint, bool, error) {
	if !r.life.enter() {
		return Checkpoint{}, false, ErrClosed
	}
	defer r.life.exit()
	b, ok, err := r.get(checkpointKey)
	if err != nil || !ok {
		return Checkpoint{}, false, err
	}
	cp, err := decodeCheckpoint(b)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("%w in %s", err, r.dir)
	}
	return cp, true, nil
}

// Stats reports rocksdb.estimate-num-keys (which also counts the checkpoint
// and, until compaction, overwritten and deleted keys) and, as LiveBytes,
// rocksdb.estimate-live-data-size plus rocksdb.cur-size-all-mem-tables: the
// former counts table files only, and recent writes live in the memtables
// alone, which are sized by their arena (from about 1 MiB once written).
func (r *Rocks) Stats() (Stats, error) {
	if !r.life.enter() {
		return Stats{}, ErrClosed
	}
	defer r.life.exit()
	keys, _ := r.db.GetIntProperty("rocksdb.estimate-num-keys")
	live, _ := r.db.GetIntProperty("rocksdb.estimate-live-data-size")
	mem, _ := r.db.GetIntProperty("rocksdb.cur-size-all-mem-tables")
	readers, _ := r.db.GetIntProperty("rocksdb.estimate-table-readers-mem")
	return Stats{Keys: keys, LiveBytes: live + mem, MemtableBytes: mem, TableReaderBytes: readers}, nil
}

// Close waits for running calls, flushes the memtables and frees the
// database and every native object.
func (r *Rocks) Close() error {
	if !r.life.close() {
		return nil
	}
	fo := grocksdb.NewDefaultFlushOptions()
	fo.SetWait(true)
	err := r.db.Flush(fo)
	fo.Destroy()
	r.db.Close()
	r.wb.Destroy()
	r.ro.Destroy()
	r.wo.Destroy()
	r.cfg.destroy()
	if err != nil {
		return fmt.Errorf("store: close %s: flush: %w", r.dir, err)
	}
	return nil
}
