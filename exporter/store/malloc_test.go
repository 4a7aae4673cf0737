package store

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"

	"github.com/linxGnu/grocksdb"
)

// TestMallocArenaLimit counts the arenas of a child process in which eight
// threads allocate through RocksDB at once: the limit acts as a program
// starts.
func TestMallocArenaLimit(t *testing.T) {
	if os.Getenv("KWINDOW_ARENA_CHILD") != "" {
		arenaChild()
		return
	}
	f := func(env ...string) (applied bool, arenas int) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestMallocArenaLimit$")
		cmd.Env = append(os.Environ(), append(env, "KWINDOW_ARENA_CHILD=1")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if _, err := fmt.Sscanf(string(out), "applied %t arenas %d", &applied, &arenas); err != nil {
			t.Fatalf("child said %q: %v", out, err)
		}
		return applied, arenas
	}
	if applied, n := f(); !applied || n < 1 || n > MallocArenaLimit {
		t.Errorf("by default: applied %v, %d arenas, want true and 1 to %d", applied, n, MallocArenaLimit)
	}
	// The environment's limit wins; this is also the control: allowed more
	// arenas, the threads make them, so the test can tell a limit from none.
	if applied, n := f("MALLOC_ARENA_MAX=6"); applied || n <= MallocArenaLimit || n > 6 {
		t.Errorf("MALLOC_ARENA_MAX=6: applied %v, %d arenas, want false and %d to 6", applied, n, MallocArenaLimit+1)
	}
	if applied, n := f("GLIBC_TUNABLES=glibc.malloc.arena_max=6"); applied || n <= MallocArenaLimit || n > 6 {
		t.Errorf("GLIBC_TUNABLES=glibc.malloc.arena_max=6: applied %v, %d arenas, want false and %d to 6", applied, n, MallocArenaLimit+1)
	}
}

// arenaChild runs in the child of TestMallocArenaLimit: eight threads
// allocate at once, and it prints the arenas.
func arenaChild() {
	const threads = 8
	var made, done sync.WaitGroup
	release := make(chan struct{})
	for range threads {
		made.Add(1)
		done.Go(func() {
			// Locked, the eight goroutines are on eight threads at once.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			o := grocksdb.NewDefaultOptions() // a C++ allocation: malloc
			made.Done()
			<-release
			o.Destroy()
		})
	}
	made.Wait()
	n := MallocArenas()
	close(release)
	done.Wait()
	fmt.Printf("applied %v arenas %d\n", MallocArenaLimitApplied(), n)
	os.Exit(0)
}

// TestTrimMalloc frees every other one of 1,024 RocksDB write batches of 60
// KiB: the holes stay resident until TrimMalloc returns them.
func TestTrimMalloc(t *testing.T) {
	const n, size = 1024, 60 << 10
	value := make([]byte, size)
	batches := make([]*grocksdb.WriteBatch, n)
	for i := range batches {
		batches[i] = grocksdb.NewWriteBatch()
		batches[i].Put([]byte("k"), value) // one malloc of about size: under glibc's mmap threshold
	}
	for i := 0; i < n; i += 2 {
		batches[i].Destroy()
	}
	defer func() {
		for i := 1; i < n; i += 2 {
			batches[i].Destroy()
		}
	}()
	before := residentBytes(t)
	freed := ReadMallocStats().Free
	if freed < n/2*size {
		t.Fatalf("malloc holds %d free bytes after %d were freed", freed, n/2*size)
	}
	if !TrimMalloc() {
		t.Errorf("TrimMalloc returned nothing")
	}
	after := residentBytes(t)
	if drop := before - after; drop < n/2*size*3/4 {
		t.Errorf("resident set %d -> %d bytes, down %d, want down by most of the %d freed (malloc's free bytes: %d)", before, after, drop, n/2*size, freed)
	}
}

// residentBytes is the process's resident set.
func residentBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		t.Fatalf("statm %q: %v", b, err)
	}
	return resident * int64(os.Getpagesize())
}
