package main

import (
	"errors"
	"flag"
	"io"
	"path/filepath"

	"github.com/pulse-sessions/pulse/internal/ddblocal"
	"github.com/pulse-sessions/pulse/internal/iamcheck"
	"github.com/pulse-sessions/pulse/internal/localevents"
)

// runIAM is the last step of make test: over the calls every test process recorded
// (PULSE_IAM_RECORD), each function's calls against its policy in template.yaml, and the grants
// nothing used.
func runIAM(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("iam", flag.ContinueOnError)
	records := fs.String("records", "", "the directory the tests wrote their calls to ("+iamcheck.RecordEnv+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *records == "" {
		return errors.New("iam: -records is required")
	}
	root, err := ddblocal.RepoRoot()
	if err != nil {
		return err
	}
	calls, err := iamcheck.ReadCalls(*records)
	if err != nil {
		return err
	}
	if len(calls) == 0 {
		return errors.New("iam: no calls were recorded: did the tests run with " + iamcheck.RecordEnv + " set?")
	}
	// Resources are named as the tests name them: the table by its logical ID, the bus as
	// localevents calls it.
	p, err := iamcheck.Load(filepath.Join(root, "template.yaml"), map[string]string{"PulseEventBus": localevents.BusName})
	if err != nil {
		return err
	}
	return iamcheck.Report(out, p, calls)
}
