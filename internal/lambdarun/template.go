package lambdarun

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/pulse-sessions/pulse/internal/template"
)

// FromTemplate describes function id of tpl as Lambda would run it: its environment with refs
// resolving Refs (the table's name), its timeout and memory size, plus extra settings (the AWS
// endpoint and credentials to use locally).
func FromTemplate(tpl *template.Template, id, binary string, refs map[string]string, extra ...string) (Function, error) {
	env, err := tpl.Environment(id, refs)
	if err != nil {
		return Function{}, err
	}
	fn := Function{Name: id, Binary: binary, Timeout: 3 * time.Second, MemoryMB: 128}
	if d := tpl.Timeout(id); d > 0 {
		fn.Timeout = d
	}
	if v, ok := tpl.Setting(id, "MemorySize").(int64); ok {
		fn.MemoryMB = int(v)
	}
	if lc, ok := tpl.Setting(id, "LoggingConfig").(map[string]any); ok {
		if lvl, ok := lc["ApplicationLogLevel"].(map[string]any); ok {
			if name, ok := lvl["Ref"].(string); ok {
				if p, ok := tpl.Parameters[name].(map[string]any); ok {
					env["AWS_LAMBDA_LOG_LEVEL"] = fmt.Sprint(p["Default"])
				}
			}
		}
	}
	for k, v := range env {
		fn.Env = append(fn.Env, k+"="+v)
	}
	fn.Env = append(fn.Env, extra...)
	return fn, nil
}

// Build builds the bootstraps of ids as sam build does, through the Makefile's
// build-<LogicalId> targets, for arch ("" for this machine's: an arm64 binary cannot run on
// x86-64), and returns each one's path.
func Build(ctx context.Context, repo, outDir, arch string, ids ...string) (map[string]string, error) {
	if arch == "" {
		arch = runtime.GOARCH
	}
	out := map[string]string{}
	for _, id := range ids {
		dir := filepath.Join(outDir, id)
		cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "build-"+id, "ARTIFACTS_DIR="+dir, "LAMBDA_ARCH="+arch)
		cmd.Dir = repo
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("lambdarun: make build-%s: %w\n%s", id, err, strings.TrimSpace(string(b)))
		}
		out[id] = filepath.Join(dir, "bootstrap")
	}
	return out, nil
}

// buildTarget is a Makefile line `build-<LogicalId>: ; $(call lambda,<folder>)`.
var buildTarget = regexp.MustCompile(`(?m)^build-(\w+): ; \$\(call lambda,([a-z-]+)\)$`)

// Targets returns, from the build targets the Makefile includes (functions/functions.mk),
// each function's logical ID and the folder under functions/ its build-<LogicalId> target builds.
func Targets(repo string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(repo, "functions", "functions.mk"))
	if err != nil {
		return nil, err
	}
	folders := map[string]string{}
	for _, m := range buildTarget.FindAllStringSubmatch(string(b), -1) {
		folders[m[1]] = m[2]
	}
	return folders, nil
}
