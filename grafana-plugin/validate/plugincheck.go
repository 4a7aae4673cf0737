//go:build ignore

// plugincheck runs the analyzers of Grafana's plugin validator
// (github.com/grafana/plugin-validator, plugincheck2's) on a plugin zip and
// its source code, offline. validate.sh builds it in a scratch module of its
// own: the validator's dependencies clash with kwindow's module, and this
// file is ignored by kwindow's build.
//
// plugincheck2 runs every analyzer in one pass that stops at the first one
// that fails, and on a machine without the internet the first is the one
// fetching Grafana's plugin.json schema. Here each analyzer runs on its own
// (with those it requires), so one that cannot run fails alone; the schema
// comes from the copy the validator module ships (-schema); the analyzers
// that only ask a service (grafana.com, osv.dev, an LLM, GitHub) or need a
// tool that is not installed are not run, and are listed as such.
//
// Every finding of severity error or warning fails the run unless -accept
// names it (analyzer/rule=reason): the accepted ones are printed with their
// reason.
package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/grafana/plugin-validator/pkg/analysis"
	"github.com/grafana/plugin-validator/pkg/analysis/passes"
	"github.com/grafana/plugin-validator/pkg/analysis/passes/metadataschema"
	"github.com/grafana/plugin-validator/pkg/archivetool"
	"github.com/grafana/plugin-validator/pkg/runner"
)

// notOffline: analyzers whose check is a question to a service, with it.
var notOffline = map[string]string{
	"legacyplatform":   "its Angular patterns come from grafana.com",
	"org":              "asks grafana.com whether the org exists",
	"published-plugin": "asks grafana.com whether the plugin is published",
	"version":          "compares with the version published on grafana.com",
	"osv-scanner":      "asks api.osv.dev (offline it reports a pass it did not make)",
	"llmreview":        "asks an LLM service",
	"codediff":         "asks an LLM service",
	"provenance":       "asks GitHub for attestations",
}

// tools: analyzers that run a program, when it is installed.
var tools = map[string]string{"go-sec": "gosec", "code-rules": "semgrep", "virusscan": "clamscan"}

type accepts map[string]string

func (a accepts) String() string { return fmt.Sprint(map[string]string(a)) }
func (a accepts) Set(s string) error {
	k, why, ok := strings.Cut(s, "=")
	if !ok || why == "" {
		return fmt.Errorf("want analyzer/rule=reason, got %q", s)
	}
	a[k] = why
	return nil
}

func main() {
	schema := flag.String("schema", "", "plugin.json schema file (the validator module's config/plugin.schema.json)")
	source := flag.String("source", "", "the plugin's source code directory")
	accepted := accepts{}
	flag.Var(accepted, "accept", "analyzer/rule=reason: a finding that does not fail the run (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 || *schema == "" || *source == "" {
		fmt.Fprintln(os.Stderr, "usage: plugincheck -schema FILE -source DIR [-accept analyzer/rule=reason]... PLUGIN.zip")
		os.Exit(2)
	}
	os.Exit(run(flag.Arg(0), *schema, *source, accepted))
}

func run(zip, schemaFile, source string, accepted accepts) int {
	schema, err := os.ReadFile(schemaFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	metadataschema.Analyzer.Run = func(*analysis.Pass) (any, error) { return schema, nil }
	os.Setenv("SKIP_LLM_REVIEW", "1")

	b, err := os.ReadFile(zip)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	dir, cleanup, err := archivetool.ExtractPlugin(bytes.NewReader(b))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", zip, err)
		return 2
	}
	defer cleanup()
	params := analysis.CheckParams{ArchiveFile: zip, ArchiveDir: dir, SourceCodeDir: source,
		SourceCodeReference:  "file://" + source,
		ArchiveCalculatedMD5: fmt.Sprintf("%x", md5.Sum(b)), ArchiveCalculatedSHA1: fmt.Sprintf("%x", sha1.Sum(b))}
	cfg := runner.Config{Global: runner.GlobalConfig{Enabled: true, ReportAll: true}}

	var ran, notRun, failures []string
	seen := map[string]bool{}
	for _, a := range passes.Analyzers {
		if why, ok := notOffline[a.Name]; ok {
			notRun = append(notRun, fmt.Sprintf("%s: %s", a.Name, why))
			continue
		}
		if tool, ok := tools[a.Name]; ok {
			if _, err := exec.LookPath(tool); err != nil {
				notRun = append(notRun, fmt.Sprintf("%s: %s is not installed", a.Name, tool))
				continue
			}
		}
		diags, err := runner.Check([]*analysis.Analyzer{a}, params, cfg, "")
		if err != nil {
			notRun = append(notRun, fmt.Sprintf("%s: %v", a.Name, err))
			failures = append(failures, a.Name+": could not run: "+err.Error())
		} else {
			ran = append(ran, a.Name)
		}
		// Diagnostics of the analyzers it requires come again with each.
		names := make([]string, 0, len(diags))
		for n := range diags {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			for _, d := range diags[n] {
				key := n + "/" + d.Name
				if seen[key+d.Title] {
					continue
				}
				seen[key+d.Title] = true
				line := fmt.Sprintf("%-14s %s: %s", d.Severity, key, d.Title)
				if d.Severity != analysis.OK && d.Detail != "" {
					line += " — " + d.Detail
				}
				if d.Severity == analysis.Error || d.Severity == analysis.Warning {
					if why, ok := accepted[key]; ok {
						line += "\n               accepted: " + why
					} else {
						failures = append(failures, fmt.Sprintf("%s: %s", key, d.Title))
					}
				}
				fmt.Println(line)
			}
		}
	}
	fmt.Printf("\nran %d analyzers: %s\n", len(ran), strings.Join(ran, " "))
	fmt.Printf("not run offline (%d):\n  %s\n", len(notRun), strings.Join(notRun, "\n  "))
	if len(failures) > 0 {
		fmt.Printf("\nFAIL: %d findings not accepted:\n  %s\n", len(failures), strings.Join(failures, "\n  "))
		return 1
	}
	fmt.Println("\nPASS: no finding but the accepted ones")
	return 0
}
