package testtool

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a T that records what Path asked of it.
type recorder struct {
	skipped, failed string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Skipf(f string, args ...any)  { r.skipped = fmt.Sprintf(f, args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.failed = fmt.Sprintf(f, args...) }

func TestPath(t *testing.T) {
	// PATH holds one directory with one program, "present".
	dir := t.TempDir()
	present := filepath.Join(dir, "present")
	if err := os.WriteFile(present, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "not-executable"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)

	const unset = "\x00unset"
	tests := []struct {
		env      string // unset: not in the environment
		program  string
		wantPath string
		wantSkip string // substrings of the skip / failure message; "" when none
		wantFail string
	}{
		{unset, "present", present, "", ""},
		{unset, "missing", "", "missing is not installed (make deps installs it); set KWINDOW_REQUIRE_TOOLS=1 to fail instead of skipping", ""},
		{unset, "not-executable", "", "not-executable is not installed", ""},
		{"", "missing", "", "set KWINDOW_REQUIRE_TOOLS=1", ""},
		{"0", "missing", "", "set KWINDOW_REQUIRE_TOOLS=1", ""},
		{"false", "missing", "", "set KWINDOW_REQUIRE_TOOLS=1", ""},
		{"1", "present", present, "", ""},
		{"1", "missing", "", "", "missing is not installed, and KWINDOW_REQUIRE_TOOLS=1 requires it (make deps installs it)"},
		{"true", "missing", "", "", "KWINDOW_REQUIRE_TOOLS=true requires it"},
		{"1", "not-executable", "", "", "not-executable is not installed"},
		{"yes", "present", "", "", `KWINDOW_REQUIRE_TOOLS="yes": want 1`},
		{"2", "missing", "", "", `KWINDOW_REQUIRE_TOOLS="2": want 1`},
		{" 1", "missing", "", "", `KWINDOW_REQUIRE_TOOLS=" 1": want 1`},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s=%q/%s", Env, tt.env, tt.program)
		if tt.env == unset {
			name = "unset/" + tt.program
		}
		t.Run(name, func(t *testing.T) {
			if tt.env == unset {
				t.Setenv(Env, "") // restored after the test
				os.Unsetenv(Env)
			} else {
				t.Setenv(Env, tt.env)
			}
			r := &recorder{}
			got := Path(r, tt.program, "make deps installs it")
			if got != tt.wantPath {
				t.Errorf("Path = %q, want %q", got, tt.wantPath)
			}
			check := func(what, got, want string) {
				if want == "" && got != "" || !strings.Contains(got, want) {
					t.Errorf("%s %q, want %q", what, got, want)
				}
			}
			check("skipped with", r.skipped, tt.wantSkip)
			check("failed with", r.failed, tt.wantFail)
		})
	}
}

// A real *testing.T: a missing program skips the test by default.
func TestPathSkips(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(Env, "0")
	var reached bool
	t.Run("missing", func(t *testing.T) {
		Path(t, "missing", "none")
		reached = true
	})
	if reached {
		t.Error("the test went on after Path found nothing")
	}
}

// Under KWINDOW_REQUIRE_TOOLS=1, a real *testing.T fails: the test binary, run
// again for TestChild only, exits with an error naming the program.
func TestPathFailsWhenRequired(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTTOOL_CHILD=1", Env+"=1", "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the test passed with a missing program under %s=1:\n%s", Env, out)
	}
	for _, want := range []string{"--- FAIL: TestChild", "missing-program is not installed, and KWINDOW_REQUIRE_TOOLS=1 requires it"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "went on") {
		t.Errorf("the test went on after Path failed:\n%s", out)
	}
}

// TestChild runs only as TestPathFailsWhenRequired's child.
func TestChild(t *testing.T) {
	if os.Getenv("TESTTOOL_CHILD") != "1" {
		t.Skip("run by TestPathFailsWhenRequired")
	}
	Path(t, "missing-program", "none")
	t.Log("went on")
}
