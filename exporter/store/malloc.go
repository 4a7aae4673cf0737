package store

/*
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KW_MALLOC_ARENA_LIMIT 2

static int kw_arena_limit_applied;

// kw_limit_malloc_arenas runs as the program loads, before the Go runtime
// starts the threads that would each make an arena (see LimitMallocArenas).
__attribute__((constructor)) static void kw_limit_malloc_arenas(void) {
	const char *tunables = getenv("GLIBC_TUNABLES");
	if (getenv("MALLOC_ARENA_MAX") != NULL || (tunables != NULL && strstr(tunables, "glibc.malloc.arena_max") != NULL)) return;
	kw_arena_limit_applied = mallopt(M_ARENA_MAX, KW_MALLOC_ARENA_LIMIT) == 1;
}

static int kw_malloc_arena_limit_applied(void) { return kw_arena_limit_applied; }

// kw_malloc_arenas counts the arenas malloc_info describes, -1 if it cannot.
static int kw_malloc_arenas(void) {
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL) return -1;
	int err = malloc_info(0, f);
	fclose(f);
	int n = 0;
	for (char *p = buf; err == 0 && (p = strstr(p, "<heap nr=")) != NULL; p++) n++;
	free(buf);
	return err == 0 ? n : -1;
}
*/
import "C"

// RocksDB allocates its memtables, cached blocks, table readers and compaction
// buffers with glibc's malloc. glibc gives each thread that allocates an arena
// of its own, up to 8 per core, and memory freed in an arena stays there, in
// holes between live chunks, until what lies above it is freed too: RocksDB's
// background threads and the cgo calls of the Go runtime's threads spread
// allocations over 16 arenas on 2 cores, and the freed blocks of flushed
// memtables and evicted cache entries made the exporter's native memory
// outside RocksDB's own figures grow by tens of MiB over a quarter of an hour
// (README, "Performance"). Any program that links this package therefore
// limits the arenas (MallocArenaLimit), and the stream runtime returns free
// pages to the kernel periodically (TrimMalloc).

// MallocArenaLimit is how many malloc arenas a program linking this package
// makes at most unless its environment says otherwise: RocksDB's two
// background jobs and the processing threads allocate far less often than they
// compute, so they seldom wait for an arena's lock.
const MallocArenaLimit = C.KW_MALLOC_ARENA_LIMIT

// MallocArenaLimitApplied reports whether MallocArenaLimit is in force: a C
// constructor sets it (mallopt M_ARENA_MAX) as the program loads, before the Go
// runtime starts threads, since arenas already made stay and glibc fixes its
// own limit once there are more than 8. It leaves a limit that the environment
// sets (MALLOC_ARENA_MAX, or glibc.malloc.arena_max in GLIBC_TUNABLES) alone.
func MallocArenaLimitApplied() bool { return C.kw_malloc_arena_limit_applied() != 0 }

// TrimMalloc returns the free pages of every malloc arena to the kernel
// (malloc_trim(0)), the holes between live chunks included, and reports
// whether any was returned.
func TrimMalloc() bool { return C.malloc_trim(0) == 1 }

// MallocStats is what glibc's malloc holds, over all its arenas (mallinfo2).
type MallocStats struct {
	// InUse is the bytes of allocated chunks, mmapped ones included.
	InUse uint64
	// Free is the bytes of free chunks in the arenas: resident unless
	// TrimMalloc has returned their pages since they were freed.
	Free uint64
}

// ReadMallocStats reads malloc's figures. It locks each arena in turn, briefly.
func ReadMallocStats() MallocStats {
	mi := C.mallinfo2()
	return MallocStats{InUse: uint64(mi.uordblks) + uint64(mi.hblkhd), Free: uint64(mi.fordblks)}
}

// MallocArenas reports how many arenas malloc has made (from malloc_info), -1
// if it cannot tell.
func MallocArenas() int { return int(C.kw_malloc_arenas()) }
