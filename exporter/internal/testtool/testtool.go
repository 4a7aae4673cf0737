// Package testtool finds the external programs that some tests run: kcat,
// promtool, Prometheus, Alertmanager. A test whose program is missing is skipped,
// unless the environment variable KWINDOW_REQUIRE_TOOLS is true (make test sets
// it): then it fails, so that a run meant to be complete cannot pass by skipping.
package testtool

import (
	"os"
	"os/exec"
	"strconv"
)

// Env names the environment variable that turns a missing program from a skip
// into a failure: "1" or "true" require, "", "0" or "false" do not (any value
// strconv.ParseBool accepts).
const Env = "KWINDOW_REQUIRE_TOOLS"

// T is the part of *testing.T that Path uses.
type T interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Path returns the path of the program name, found in PATH as exec.LookPath
// finds it. When it is missing, the test is skipped, or fails when Env is true;
// install says how to get it (for example "make deps installs it"), for the
// message. A value of Env that is not a boolean fails the test. When t skips or
// fails without stopping (not a *testing.T), Path returns "".
func Path(t T, name, install string) string {
	t.Helper()
	required, err := Required()
	if err != nil {
		t.Fatalf("%v", err)
		return ""
	}
	path, err := exec.LookPath(name)
	switch {
	case err == nil:
		return path
	case required:
		t.Fatalf("%s is not installed, and %s=%s requires it (%s): %v", name, Env, os.Getenv(Env), install, err)
	default:
		t.Skipf("%s is not installed (%s); set %s=1 to fail instead of skipping", name, install, Env)
	}
	return ""
}

// Required reports whether Env asks for every program to be present.
func Required() (bool, error) {
	v, ok := os.LookupEnv(Env)
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &envError{v}
	}
	return b, nil
}

type envError struct{ value string }

func (e *envError) Error() string {
	return Env + "=" + strconv.Quote(e.value) + ": want 1 (a missing test program fails the test) or 0 (it skips the test)"
}
