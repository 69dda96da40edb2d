// Command gen writes what follows from template.yaml so that nobody keeps it in step by hand:
// each function's functions/<folder>/main.go, the Makefile's build targets
// (functions/functions.mk) and the route list (docs/routes.md). Adding an endpoint means writing its
// handler (and its line in its surface's Routes), its function in template.yaml and its
// events/ file, then `go generate ./...`. The output is committed, because `sam build` reads it;
// `go test ./internal/gen` fails when it is stale.
//
//	go run ./internal/gen [-root DIR] [-check]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pulse-sessions/pulse/internal/gen/routes"
)

func main() {
	root := flag.String("root", ".", "the repository's root")
	check := flag.Bool("check", false, "report stale files instead of writing them")
	flag.Parse()
	files, err := routes.Generate(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	stale, err := routes.Stale(*root, files)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if *check {
		if len(stale) > 0 {
			fmt.Fprintf(os.Stderr, "gen: stale (run go generate ./...): %s\n", strings.Join(stale, ", "))
			os.Exit(1)
		}
		return
	}
	if err := routes.Write(*root, files, stale); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, f := range stale {
		fmt.Println("wrote", f)
	}
}
