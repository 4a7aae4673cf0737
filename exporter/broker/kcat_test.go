package broker

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/internal/testtool"
)

// TestKcat talks to the embedded broker with a real third-party client: kcat
// (librdkafka), as the README tells users to. make test installs it.
func TestKcat(t *testing.T) {
	kcat := testtool.Path(t, "kcat", "Debian's kcat: make deps installs it")
	b, err := Start(Options{Addr: "127.0.0.1:0", Partitions: 3, Topics: []string{"requests"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(kcat, append([]string{"-b", b.Addr()}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("kcat %v: %v\n%s", args, err, errb.String())
		}
		return out.String()
	}
	if meta := run("", "-L", "-t", "requests"); !strings.Contains(meta, `topic "requests" with 3 partitions`) {
		t.Fatalf("kcat -L does not show the topic:\n%s", meta)
	}
	events := `{"endpoint":"/a","status":200}` + "\n" + `{"endpoint":"/b","status":500}` + "\n"
	run(events, "-P", "-t", "requests", "-p", "1")
	got := run("", "-C", "-t", "requests", "-p", "1", "-o", "beginning", "-e", "-q")
	if got != events {
		t.Fatalf("kcat consumed %q, want %q", got, events)
	}
}
