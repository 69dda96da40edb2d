package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pulse-sessions/pulse/internal/ddblocal"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/boot"
)

// Options says how big a run to make.
type Options struct {
	Quick bool // one small data size, few repetitions: a smoke test
	// ColdOnly, when positive, measures only the cold starts, that many times each: the
	// before-and-after of a change to what the functions link, without the rest of the run.
	ColdOnly int
	Root     string    // the repository
	Progress io.Writer // what the run is doing
}

// Report is everything one run measured.
type Report struct {
	Started   time.Time
	Elapsed   time.Duration
	Command   string
	Machine   string
	GoVersion string
	DDBLocal  string
	Sizes     []int
	Capacity  map[int][]capacityRow
	Latency   []latencyRow
	LatencyN  int
	Heartbeat heartbeatResult
	// HeartbeatEach is the same with ACTIVITY_RESOLUTION off: every heartbeat written.
	HeartbeatEach heartbeatResult
	// Batched is activity sent in batches of 100 every 30 s (POST /api/activity) at the
	// default ACTIVITY_RESOLUTION, BatchedMax at its largest (300 s).
	Batched, BatchedMax batchResult
	Scale               []scaleRow
	Cold                []coldRow
	Minimal             coldRow
	Events              eventsResult
	ColdReps            int
}

// Run measures, against its own in-memory DynamoDB Local.
func Run(ctx context.Context, o Options) (*Report, error) {
	rep := &Report{Started: time.Now(), GoVersion: runtime.Version(), Capacity: map[int][]capacityRow{},
		Command: "make bench", Machine: machine()}
	if o.Quick {
		rep.Command = "make bench BENCH_FLAGS=-quick"
	}
	say := func(format string, args ...any) { fmt.Fprintf(o.Progress, format+"\n", args...) }
	rep.Sizes, rep.LatencyN, rep.ColdReps = []int{1000, 10000, 100000}, 200, 11
	if o.Quick {
		rep.Sizes, rep.LatencyN, rep.ColdReps = []int{1000}, 30, 1
	}
	if o.ColdOnly > 0 {
		rep.Command, rep.ColdReps = fmt.Sprintf("go run ./cmd/pulse bench -cold %d", o.ColdOnly), o.ColdOnly
	}
	tpl, err := template.Load(filepath.Join(o.Root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	jar, err := ddblocal.Ensure(ctx, o.Root)
	if err != nil {
		return nil, err
	}
	rep.DDBLocal = filepath.Base(jar)
	proc, err := ddblocal.Start(ctx, ddblocal.Options{JarDir: jar})
	if err != nil {
		return nil, err
	}
	defer proc.Stop()

	if o.ColdOnly > 0 {
		return rep, rep.measureCold(ctx, o.Root, proc.Endpoint, tpl, say)
	}
	for _, size := range rep.Sizes {
		say("capacity: seeding %d sessions…", size)
		now := measuredAt
		e, closeEnv, err := newEnv(ctx, proc.Endpoint, tpl, now)
		if err != nil {
			return nil, err
		}
		if err := e.seed(ctx, size, now); err != nil {
			closeEnv()
			return nil, err
		}
		say("capacity: measuring at %d sessions…", size)
		if rep.Capacity[size], err = e.capacity(ctx, now.Add(2*time.Minute)); err != nil {
			closeEnv()
			return nil, err
		}
		closeEnv()
	}

	// Latency on a tenant of its own: its logins add live sessions.
	say("latency: %d requests per endpoint…", rep.LatencyN)
	now := time.Now().Truncate(time.Second)
	le, closeLE, err := newEnv(ctx, proc.Endpoint, tpl, now)
	if err != nil {
		return nil, err
	}
	if err := le.seed(ctx, rep.Sizes[0], now); err != nil {
		closeLE()
		return nil, err
	}
	rep.Latency, err = le.latency(ctx, rep.LatencyN)
	closeLE()
	if err != nil {
		return nil, err
	}

	say("heartbeat: 50 sessions, one call every 30 s for an hour…")
	hb, closeHB, err := newEnv(ctx, proc.Endpoint, tpl, time.Now())
	if err != nil {
		return nil, err
	}
	rep.Heartbeat, err = hb.heartbeat(ctx, 50)
	closeHB()
	if err != nil {
		return nil, err
	}
	hb, closeHB, err = newEnvWith(ctx, proc.Endpoint, tpl, time.Now(), func(c *boot.Config) { c.Policy.ActivityResolution = 0 })
	if err != nil {
		return nil, err
	}
	rep.HeartbeatEach, err = hb.heartbeat(ctx, 50)
	closeHB()
	if err != nil {
		return nil, err
	}

	for _, run := range []struct {
		out        *batchResult
		resolution time.Duration // 0: the template's default
	}{{&rep.Batched, 0}, {&rep.BatchedMax, 300 * time.Second}} {
		say("batched heartbeat: 100 sessions, one batch every 30 s for an hour…")
		be, closeBE, err := newEnvWith(ctx, proc.Endpoint, tpl, time.Now(), func(c *boot.Config) {
			if run.resolution > 0 {
				c.Policy.ActivityResolution = run.resolution
			}
		})
		if err != nil {
			return nil, err
		}
		*run.out, err = be.batchHeartbeat(ctx, 100)
		closeBE()
		if err != nil {
			return nil, err
		}
	}

	say("events: a login, a heartbeat and a revoke through the stream and the publisher…")
	if rep.Events, err = eventsCost(ctx, proc.Endpoint, tpl, time.Now().Truncate(time.Second)); err != nil {
		return nil, err
	}

	if rep.Scale, err = scale(ctx, o.Root, proc.Endpoint, tpl, o.Quick, say); err != nil {
		return nil, err
	}

	if err := rep.measureCold(ctx, o.Root, proc.Endpoint, tpl, say); err != nil {
		return nil, err
	}
	return rep, nil
}

// measureCold builds every function and starts each rep.ColdReps times (section 4).
func (rep *Report) measureCold(ctx context.Context, root, endpoint string, tpl *template.Template, say func(string, ...any)) error {
	say("cold starts: building every function, %d start(s) each…", rep.ColdReps)
	ce, closeCE, err := newEnv(ctx, endpoint, tpl, time.Now())
	if err != nil {
		return err
	}
	defer closeCE()
	rep.Cold, rep.Minimal, err = coldStarts(ctx, root, tpl, ce, rep.ColdReps)
	rep.Elapsed = time.Since(rep.Started)
	return err
}

// machine describes the CPU, cores and memory.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	java := ""
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		java = ", " + strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return fmt.Sprintf("%s/%s, %d cores (%s)%s%s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, mem, java)
}
