package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pulse-sessions/pulse/internal/bench"
	"github.com/pulse-sessions/pulse/internal/ddblocal"
)

// runBench is make bench: it measures and writes BENCHMARKS.md.
func runBench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "one small data size and few repetitions (a smoke test)")
	cold := fs.Int("cold", 0, "measure only the cold starts, this many per function, and print section 4 (BENCHMARKS.md is left alone)")
	file := fs.String("out", "BENCHMARKS.md", "where the report goes, relative to the repository")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := ddblocal.RepoRoot()
	if err != nil {
		return err
	}
	rep, err := bench.Run(ctx, bench.Options{Quick: *quick, ColdOnly: *cold, Root: root, Progress: out})
	if err != nil {
		return err
	}
	if *cold > 0 {
		fmt.Fprint(out, rep.ColdMarkdown())
		return nil
	}
	path := *file
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := os.WriteFile(path, []byte(rep.Markdown()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s (%s)\n", path, rep.Elapsed.Round(1e9))
	return nil
}
