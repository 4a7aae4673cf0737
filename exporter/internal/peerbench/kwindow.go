package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// runKwindow runs BenchmarkPeers/keys=<keys> of the engine's test binary for events
// events on one core and returns its events per CPU-second.
func runKwindow(testBin string, keys, events int) (float64, error) {
	name := "BenchmarkPeers/keys=" + strconv.Itoa(keys)
	cmd := exec.Command(testBin, "-test.run=^$", "-test.bench=^BenchmarkPeers$/^keys="+strconv.Itoa(keys)+"$",
		"-peers.keys="+strconv.Itoa(keys), "-test.cpu=1", "-test.benchtime="+strconv.Itoa(events)+"x", "-test.count=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w\n%s", cmd, err, out.Bytes())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != name {
			continue
		}
		if f[1] != strconv.Itoa(events) {
			return 0, fmt.Errorf("%s: ran %s events, want %d", cmd, f[1], events)
		}
		for i := 2; i+1 < len(f); i++ {
			if f[i+1] == "events/cpu-s" {
				return strconv.ParseFloat(f[i], 64)
			}
		}
	}
	return 0, fmt.Errorf("%s: no %s line with events/cpu-s in its output:\n%s", cmd, name, out.Bytes())
}
