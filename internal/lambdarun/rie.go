package lambdarun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RIEModule is AWS's Lambda Runtime Interface Emulator, the program `sam local` runs inside its
// containers, pinned in go.mod as a tool.
const RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// BuildRIE builds aws-lambda-rie at the version go.mod pins into dir and returns its path.
func BuildRIE(ctx context.Context, repo, dir string) (string, error) {
	bin := filepath.Join(dir, "aws-lambda-rie")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, RIEModule)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("lambdarun: build %s: %w\n%s", RIEModule, err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// RIE runs one function's bootstrap under aws-lambda-rie, outside a container: RIE serves the
// Runtime API to the bootstrap, enforces the timeout, and takes invocations on
// /2015-03-31/functions/function/invocations, as in `sam local invoke`. RIE's REPORT line
// prints the memory size as the memory used (it cannot measure it); Result.MaxMemoryKB is
// read from the kernel instead (the bootstrap's VmHWM).
type RIE struct {
	fn   Function
	addr string
	cmd  *exec.Cmd
	out  *watcher
	done chan struct{}
}

// NewRIE starts aws-lambda-rie (the binary at rie) for fn. The bootstrap starts with the first
// invocation, as in Lambda.
func NewRIE(fn Function, rie string) (*RIE, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]), fn.Binary)
	// RIE hands its own environment to the function: give it the function's and nothing of ours.
	cmd.Env = append([]string{
		"AWS_LAMBDA_FUNCTION_NAME=" + fn.Name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(fn.Timeout.Seconds())),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(fn.MemoryMB),
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}, fn.Env...)
	cmd.Dir = filepath.Dir(fn.Binary)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Close ends RIE and the bootstrap
	w := &watcher{copy: fn.Output}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lambdarun: start aws-lambda-rie: %w", err)
	}
	r := &RIE{fn: fn, addr: addr, cmd: cmd, out: w, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return r, nil
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("lambdarun: aws-lambda-rie exited: %s", w.String())
		default:
		}
		if time.Since(start) > 10*time.Second {
			r.Close()
			return nil, fmt.Errorf("lambdarun: aws-lambda-rie did not listen on %s", addr)
		}
	}
}

// Close stops RIE and the function's process.
func (r *RIE) Close() {
	if r.cmd.Process != nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-r.done
}

var (
	initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	report     = regexp.MustCompile(`REPORT RequestId: (\S+)\s+(?:Init Duration: [0-9.]+ ms\s+)?Duration: ([0-9.]+) ms`)
)

// Invoke hands event to the function through RIE's invoke endpoint and returns the result as
// Lambda reports it: the response, or the function's error, or "Task timed out".
func (r *RIE) Invoke(ctx context.Context, event []byte) (*Result, error) {
	res := &Result{RequestID: requestID()}
	mark := r.out.Len()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amzn-RequestId", res.RequestID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lambdarun: invoke through aws-lambda-rie: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 7<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	// RIE prints REPORT just before it answers; wait for the line to come through the pipe.
	var out string
	for start := time.Now(); time.Since(start) < 2*time.Second; time.Sleep(10 * time.Millisecond) {
		if out = r.out.Since(mark); strings.Contains(out, "REPORT RequestId: "+res.RequestID) {
			break
		}
	}
	if m := initReport.FindStringSubmatch(out); m != nil {
		ms, _ := strconv.ParseFloat(m[1], 64)
		res.Cold, res.InitDuration = true, time.Duration(ms*float64(time.Millisecond))
	}
	if m := report.FindStringSubmatch(out); m != nil && m[1] == res.RequestID {
		ms, _ := strconv.ParseFloat(m[2], 64)
		res.Duration = time.Duration(ms * float64(time.Millisecond))
	}
	res.MaxMemoryKB = r.peakMemoryKB()
	var fe FunctionError
	switch {
	case bytes.HasPrefix(body, []byte("Task timed out after")):
		res.Error = &FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("RequestId: %s Error: %s", res.RequestID, body)}
	case resp.StatusCode != http.StatusOK:
		res.Error = &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("aws-lambda-rie answered %d: %s", resp.StatusCode, body)}
	case json.Unmarshal(body, &fe) == nil && fe.Type != "" && !bytes.Contains(body, []byte(`"statusCode"`)):
		res.Error = &fe
	default:
		res.Payload = body
	}
	return res, nil
}

// Output returns everything RIE and the function have printed so far.
func (r *RIE) Output() string { return r.out.String() }

// peakMemoryKB reads the bootstrap's peak resident memory (VmHWM) from /proc: the process RIE
// started, its child.
func (r *RIE) peakMemoryKB() int64 {
	if r.cmd.Process == nil {
		return 0
	}
	var peak int64
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", r.cmd.Process.Pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, pid := range strings.Fields(string(b)) {
			if kb := statusKB(pid, "VmHWM:"); kb > peak {
				peak = kb
			}
		}
	}
	return peak
}

// statusKB reads a line of /proc/<pid>/status in kB, 0 where unknown.
func statusKB(pid, field string) int64 {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// watcher keeps what RIE and the function print, and passes it on.
type watcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	copy io.Writer
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.copy != nil {
		_, _ = w.copy.Write(p)
	}
	return len(p), nil
}

func (w *watcher) Len() int { w.mu.Lock(); defer w.mu.Unlock(); return w.buf.Len() }

func (w *watcher) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.buf.String() }

// Since returns what was printed after the first n bytes.
func (w *watcher) Since(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf.Bytes()[n:])
}

// ReportLines returns RIE's INIT and REPORT lines from its output.
func ReportLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "INIT START") || strings.Contains(l, "INIT REPORT") || strings.HasPrefix(l, "REPORT ") {
			lines = append(lines, l)
		}
	}
	return lines
}
