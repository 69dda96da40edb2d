package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/pulse-sessions/pulse/internal/ddblocal"
)

// exitError carries a command's exit status out of run, so that pulse exits with it.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// runDDB is `pulse ddb fetch` (install DynamoDB Local) and `pulse ddb exec -- CMD ARGS…`: one
// in-memory DynamoDB Local for the whole of CMD, which finds it in PULSE_DDB_ENDPOINT. make test
// runs the suite under it: without it each test binary starts a JVM of its own, and every one of
// those compiles DynamoDB Local's hot code again (a test of the session list cost 39 s of the
// emulator's CPU on a fresh JVM, 22 s on one already warm). Tests stay apart as before: each
// takes a database of its own by its access key (internal/ddbtest).
func runDDB(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || (args[0] != "fetch" && args[0] != "exec") {
		return errors.New(usage)
	}
	// The command is checked before DynamoDB Local is installed: a usage error costs nothing.
	cmdArgs := args[1:]
	if len(cmdArgs) > 0 && cmdArgs[0] == "--" {
		cmdArgs = cmdArgs[1:]
	}
	if args[0] == "exec" && len(cmdArgs) == 0 {
		return errors.New(usage)
	}
	root, err := ddblocal.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := ddblocal.Ensure(ctx, root)
	if err != nil {
		return err
	}
	if args[0] == "fetch" {
		fmt.Fprintln(out, "DynamoDB Local is in", dir)
		return nil
	}
	proc, err := ddblocal.Start(ctx, ddblocal.Options{JarDir: dir})
	if err != nil {
		return err
	}
	defer proc.Stop()
	cmd := exec.CommandContext(ctx, cmdArgs[0], cmdArgs[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, out, os.Stderr
	cmd.Env = append(os.Environ(), "PULSE_DDB_ENDPOINT="+proc.Endpoint)
	err = cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return exitError{ee.ExitCode()}
	}
	return err
}
