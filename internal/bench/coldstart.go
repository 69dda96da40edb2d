package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pulse-sessions/pulse/internal/demo"
	"github.com/pulse-sessions/pulse/internal/eventbus"
	"github.com/pulse-sessions/pulse/internal/lambdarun"
	"github.com/pulse-sessions/pulse/internal/template"
)

// coldRow is one function's cold start.
type coldRow struct {
	Function      string
	Init          time.Duration // process start to its first request for work (median)
	FirstResponse time.Duration // process start to the first response (median)
	InitRSSKB     int64         // resident memory at the end of init
	SizeARM64     int64         // the deployable bootstrap (linux/arm64), bytes
}

// coldStarts starts every function (and a minimal aws-lambda-go function built the same way)
// reps times as a fresh process under the Runtime API harness and hands it its events/ file.
func coldStarts(ctx context.Context, root string, tpl *template.Template, e *env, reps int) ([]coldRow, coldRow, error) {
	dir, err := os.MkdirTemp("", "pulse-bench-")
	if err != nil {
		return nil, coldRow{}, err
	}
	defer os.RemoveAll(dir)
	ids := tpl.Functions()
	host, err := lambdarun.Build(ctx, root, filepath.Join(dir, "host"), "", ids...)
	if err != nil {
		return nil, coldRow{}, err
	}
	// The deployable linux/arm64 bootstraps, as sam build makes them: their sizes.
	arm, err := lambdarun.Build(ctx, root, filepath.Join(dir, "arm64"), "arm64", ids...)
	if err != nil {
		return nil, coldRow{}, err
	}
	armSizes := map[string]int64{}
	for id, bin := range arm {
		st, err := os.Stat(bin)
		if err != nil {
			return nil, coldRow{}, err
		}
		armSizes[id] = st.Size()
	}
	minimal := filepath.Join(dir, "minimal", "bootstrap")
	minimalARM := filepath.Join(dir, "minimal-arm64", "bootstrap")
	for bin, arch := range map[string]string{minimal: "", minimalARM: "arm64"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin, "./internal/lambdarun/testdata/fn")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if arch != "" {
			cmd.Env = append(cmd.Env, "GOARCH="+arch)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, coldRow{}, fmt.Errorf("build minimal function: %v: %s", err, out)
		}
	}

	// The events refer to the demo data.
	if err := demo.Seed(ctx, e.deps.Store, tenant, time.Now()); err != nil {
		return nil, coldRow{}, err
	}
	tok, _, err := e.deps.Store.CreateToken(ctx, tenant, demo.Admin, "make-run", 0)
	if err != nil {
		return nil, coldRow{}, err
	}
	vars := strings.NewReplacer("$PULSE_API_KEY", e.key, "$PULSE_USER_ID", demo.Admin, "$PULSE_AUTH_TOKEN", tok)
	bus := eventbus.New("pulse-bench-events") // the publisher's PutEvents go to EventBridge's stand-in
	defer bus.Close()
	local := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=" + e.accessKey, "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB=" + e.endpoint, "AWS_ENDPOINT_URL_EVENTBRIDGE=" + bus.URL}
	folders, err := lambdarun.Targets(root)
	if err != nil {
		return nil, coldRow{}, err
	}
	measure := func(f lambdarun.Function, event []byte) (coldRow, error) {
		var inits, firsts []time.Duration
		var rss int64
		for range reps {
			r, err := lambdarun.New(f)
			if err != nil {
				return coldRow{}, err
			}
			start := time.Now()
			res, err := r.Invoke(ctx, event)
			first := time.Since(start)
			r.Close()
			if err != nil {
				return coldRow{}, err
			}
			if res.Error != nil {
				return coldRow{}, fmt.Errorf("%s: %v", f.Name, res.Error)
			}
			inits, firsts, rss = append(inits, res.InitDuration), append(firsts, first), res.InitMemoryKB
		}
		return coldRow{Function: f.Name, Init: percentile(inits, 50), FirstResponse: percentile(firsts, 50), InitRSSKB: rss}, nil
	}
	var rows []coldRow
	for _, id := range ids {
		raw, err := os.ReadFile(filepath.Join(root, "events", folders[id]+".json"))
		if err != nil {
			return nil, coldRow{}, err
		}
		f, err := lambdarun.FromTemplate(tpl, id, host[id], map[string]string{"PulseTable": e.table, "PulseEventBus": bus.Bus}, local...)
		if err != nil {
			return nil, coldRow{}, err
		}
		row, err := measure(f, []byte(vars.Replace(string(raw))))
		if err != nil {
			return nil, coldRow{}, err
		}
		row.SizeARM64 = armSizes[id]
		rows = append(rows, row)
	}
	base, err := measure(lambdarun.Function{Name: "minimal", Binary: minimal, Timeout: 10 * time.Second, MemoryMB: 128}, []byte(`{"op":"echo"}`))
	if err != nil {
		return nil, coldRow{}, err
	}
	if st, err := os.Stat(minimalARM); err == nil {
		base.SizeARM64 = st.Size()
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Function < rows[j].Function })
	return rows, base, nil
}
