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
	// Every function and the minimal one are started once a round, round after round, rather than
	// each reps times in a row: whatever slows the machine for a while (the JVM of DynamoDB Local
	// collecting, another process) then falls on all of them alike instead of on whichever ran
	// at that moment, and the ratio to the minimal function compares like with like.
	type target struct {
		f              lambdarun.Function
		event          []byte
		inits, firsts  []time.Duration
		rss, sizeARM64 int64
	}
	var targets []*target
	for _, id := range ids {
		raw, err := os.ReadFile(filepath.Join(root, "events", folders[id]+".json"))
		if err != nil {
			return nil, coldRow{}, err
		}
		f, err := lambdarun.FromTemplate(tpl, id, host[id], map[string]string{"PulseTable": e.table, "PulseEventBus": bus.Bus}, local...)
		if err != nil {
			return nil, coldRow{}, err
		}
		targets = append(targets, &target{f: f, event: []byte(vars.Replace(string(raw))), sizeARM64: armSizes[id]})
	}
	base := &target{f: lambdarun.Function{Name: "minimal", Binary: minimal, Timeout: 10 * time.Second, MemoryMB: 128}, event: []byte(`{"op":"echo"}`)}
	if st, err := os.Stat(minimalARM); err == nil {
		base.sizeARM64 = st.Size()
	}
	targets = append(targets, base)
	for range reps {
		for _, t := range targets {
			r, err := lambdarun.New(t.f)
			if err != nil {
				return nil, coldRow{}, err
			}
			start := time.Now()
			res, err := r.Invoke(ctx, t.event)
			first := time.Since(start)
			r.Close()
			if err != nil {
				return nil, coldRow{}, err
			}
			if res.Error != nil {
				return nil, coldRow{}, fmt.Errorf("%s: %v", t.f.Name, res.Error)
			}
			t.inits, t.firsts, t.rss = append(t.inits, res.InitDuration), append(t.firsts, first), res.InitMemoryKB
		}
	}
	row := func(t *target) coldRow {
		return coldRow{Function: t.f.Name, Init: percentile(t.inits, 50), FirstResponse: percentile(t.firsts, 50), InitRSSKB: t.rss, SizeARM64: t.sizeARM64}
	}
	var rows []coldRow
	for _, t := range targets[:len(targets)-1] {
		rows = append(rows, row(t))
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Function < rows[j].Function })
	return rows, row(base), nil
}
