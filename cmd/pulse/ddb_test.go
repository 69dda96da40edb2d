package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/pulse-sessions/pulse/internal/ddblocal"
)

// pulse ddb exec runs its command with a DynamoDB Local that answers at PULSE_DDB_ENDPOINT, and
// passes the command's exit status on (make test fails when a test does). The command is this
// test binary again, as TestDDBExecChild, which checks the endpoint from inside.
func TestDDBExec(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local")
	}
	ctx := context.Background()
	for _, want := range []int{0, 3} {
		var out bytes.Buffer
		t.Setenv("PULSE_DDB_EXEC_CHILD_EXIT", map[int]string{0: "0", 3: "3"}[want])
		err := run(ctx, []string{"ddb", "exec", "--", os.Args[0], "-test.run=^TestDDBExecChild$"}, os.Getenv, &out)
		got := 0
		if ee, ok := errors.AsType[exitError](err); ok {
			got = ee.code
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("exit status %d, want %d; the command said:\n%s", got, want, out.String())
		}
	}
}

// TestDDBExecChild is the command TestDDBExec runs: it fails (status 4) unless DynamoDB Local
// answers at PULSE_DDB_ENDPOINT, else exits with the status TestDDBExec asks for.
func TestDDBExecChild(t *testing.T) {
	code := os.Getenv("PULSE_DDB_EXEC_CHILD_EXIT")
	if code == "" {
		t.Skip("run by TestDDBExec")
	}
	if !ddblocal.Ready(context.Background(), os.Getenv("PULSE_DDB_ENDPOINT")) {
		os.Exit(4)
	}
	if code != "0" {
		os.Exit(3)
	}
}

// pulse ddb exec without a command is a usage error, answered before anything is installed or
// started: run from a folder with no go.mod above it, where installing DynamoDB Local would fail
// on the repository's root instead.
func TestDDBExecNeedsCommand(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{{"ddb", "exec"}, {"ddb", "exec", "--"}} {
		err := run(context.Background(), args, os.Getenv, io.Discard)
		if err == nil || err.Error() != usage {
			t.Errorf("%q: got %v, want the usage", args, err)
		}
	}
}
