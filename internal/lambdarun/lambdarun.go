// Package lambdarun runs a built Lambda bootstrap exactly as Lambda runs it, without Lambda:
// it serves the Runtime API (GET /2018-06-01/runtime/invocation/next, POST .../{id}/response
// answered 202, POST .../{id}/error, POST .../runtime/init/error), starts the binary with
// AWS_LAMBDA_RUNTIME_API pointing at it and the function's environment, kills it at the
// deadline and starts it afresh after a crash or a time-out, as Lambda does. There is no SAM
// CLI or Docker here; this is how Pulse proves each bootstrap speaks Lambda's protocol.
package lambdarun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Function is a built function and how Lambda would run it.
type Function struct {
	Name     string        // the function's name, as in its ARN
	Binary   string        // path of the bootstrap
	Env      []string      // the function's own environment (the template's), KEY=value
	Timeout  time.Duration // the function's timeout
	MemoryMB int           // its memory size
	Output   io.Writer     // where the process's stdout and stderr go (nil: discarded)
}

// FunctionError is a failed invocation as Lambda reports it.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Result is one invocation.
type Result struct {
	RequestID    string
	Payload      []byte         // the function's response, when it succeeded
	Error        *FunctionError // the function's error, a crash or a time-out
	Cold         bool           // the process was started for this invocation
	InitDuration time.Duration  // cold: process start to its first request for work
	Duration     time.Duration  // event handed over to response received
	MaxMemoryKB  int64          // the process's peak resident memory so far (VmHWM)
	InitMemoryKB int64          // cold: resident memory when init was done (VmRSS at the first /next)
}

type invocation struct {
	id       string
	event    []byte
	deadline time.Time
	handed   time.Time
	done     chan outcome
}

type outcome struct {
	payload []byte
	err     *FunctionError
	at      time.Time
}

// Runner serves the Runtime API for one function and manages its process.
type Runner struct {
	fn   Function
	ln   net.Listener
	srv  *http.Server
	next chan *invocation

	mu        sync.Mutex
	proc      *exec.Cmd
	exited    chan struct{}
	started   time.Time
	firstNext chan time.Time // receives the time of the first /next after a start
	initRSS   int64
	inflight  map[string]*invocation
	initErr   *FunctionError
}

// New starts the Runtime API on a loopback port. The function's process starts with the first
// invocation.
func New(fn Function) (*Runner, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Runner{fn: fn, ln: ln, next: make(chan *invocation, 1), inflight: map[string]*invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.handleResult(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.handleResult(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", r.handleInitError)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Addr is the Runtime API's host:port, as AWS_LAMBDA_RUNTIME_API holds it.
func (r *Runner) Addr() string { return r.ln.Addr().String() }

// Close stops the process and the Runtime API.
func (r *Runner) Close() {
	r.kill()
	_ = r.srv.Close()
}

func (r *Runner) handleNext(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	first := r.firstNext
	r.firstNext = nil
	r.mu.Unlock()
	if first != nil {
		at := time.Now()
		rss := r.memory("VmRSS:")
		r.mu.Lock()
		r.initRSS = rss
		r.mu.Unlock()
		first <- at
	}
	select {
	case inv := <-r.next:
		inv.handed = time.Now()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:"+r.fn.Name)
		h.Set("Lambda-Runtime-Trace-Id", traceID())
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(inv.event)
	case <-req.Context().Done(): // the process went away while waiting for work
	}
}

func (r *Runner) handleResult(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 6<<20+1))
		r.mu.Lock()
		inv := r.inflight[req.PathValue("id")]
		delete(r.inflight, req.PathValue("id"))
		r.mu.Unlock()
		if inv == nil {
			http.Error(w, `{"errorMessage":"unknown request ID","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		o := outcome{at: time.Now()}
		switch {
		case isError:
			fe := &FunctionError{}
			if json.Unmarshal(body, fe) != nil || fe.Type == "" {
				fe.Type = req.Header.Get("Lambda-Runtime-Function-Error-Type")
				fe.Message = string(body)
			}
			o.err = fe
		case len(body) > 6<<20: // Lambda's synchronous response limit
			o.err = &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: "Response payload size exceeded maximum allowed payload size (6291556 bytes)."}
		default:
			o.payload = body
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"OK"}`))
		inv.done <- o
	}
}

func (r *Runner) handleInitError(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	fe := &FunctionError{}
	if json.Unmarshal(body, fe) != nil || fe.Type == "" {
		fe.Type, fe.Message = req.Header.Get("Lambda-Runtime-Function-Error-Type"), string(body)
	}
	r.mu.Lock()
	r.initErr = fe
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

// start runs the bootstrap with the function's environment and nothing of ours, as Lambda does.
func (r *Runner) start() error {
	env := append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + r.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=" + r.fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(r.fn.MemoryMB),
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}, r.fn.Env...)
	cmd := exec.Command(r.fn.Binary)
	cmd.Env = env
	if r.fn.Output != nil {
		cmd.Stdout, cmd.Stderr = r.fn.Output, r.fn.Output
	}
	first := make(chan time.Time, 1)
	r.mu.Lock()
	r.firstNext, r.initErr = first, nil
	r.mu.Unlock()
	r.started = time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lambdarun: start %s: %w", r.fn.Binary, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.mu.Lock()
	r.proc, r.exited = cmd, exited
	r.mu.Unlock()
	return nil
}

func (r *Runner) kill() {
	r.mu.Lock()
	proc, exited := r.proc, r.exited
	r.proc, r.exited = nil, nil
	r.mu.Unlock()
	if proc != nil {
		_ = proc.Process.Kill()
		<-exited
	}
}

// Invoke runs one invocation with event, starting the process first when none is running.
// A time-out kills the process (Lambda's "Task timed out"); a process that exits mid-invocation
// is reported as Runtime.ExitError. Either way the next invocation starts a fresh process.
func (r *Runner) Invoke(ctx context.Context, event []byte) (*Result, error) {
	res := &Result{RequestID: requestID()}
	r.mu.Lock()
	running := r.proc != nil
	r.mu.Unlock()
	if !running {
		if err := r.start(); err != nil {
			return nil, err
		}
		res.Cold = true
	}
	r.mu.Lock()
	exited, first := r.exited, r.firstNext
	r.mu.Unlock()

	deadline := time.Now().Add(r.fn.Timeout)
	inv := &invocation{id: res.RequestID, event: event, deadline: deadline, done: make(chan outcome, 1)}
	r.mu.Lock()
	r.inflight[inv.id] = inv
	r.mu.Unlock()
	r.next <- inv

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	if res.Cold && first != nil {
		select {
		case t := <-first:
			res.InitDuration = t.Sub(r.started)
			r.mu.Lock()
			res.InitMemoryKB = r.initRSS
			r.mu.Unlock()
		case <-exited:
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	select {
	case o := <-inv.done:
		res.Payload, res.Error = o.payload, o.err
		res.Duration = o.at.Sub(inv.handed)
		res.MaxMemoryKB = r.memory("VmHWM:")
		if o.err != nil {
			// aws-lambda-go reports a panic as an error (typed after the panic value) and
			// exits: wait a moment for that, so that the next invocation starts afresh.
			r.settle(exited)
		}
	case <-exited:
		r.mu.Lock()
		initErr := r.initErr
		r.mu.Unlock()
		res.Error = &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: %s Error: Runtime exited without providing a reason", res.RequestID)}
		if initErr != nil {
			res.Error = initErr
		}
		r.forget(inv, exited)
	case <-timer.C:
		res.Error = &FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", res.RequestID, r.fn.Timeout.Seconds())}
		res.Duration = r.fn.Timeout
		r.kill()
		r.forget(inv, nil)
	case <-ctx.Done():
		r.kill()
		r.forget(inv, nil)
		return nil, ctx.Err()
	}
	return res, nil
}

// settle waits briefly for a process that is about to exit, and forgets it once it has.
func (r *Runner) settle(exited chan struct{}) {
	select {
	case <-exited:
		r.forget(nil, exited)
	case <-time.After(200 * time.Millisecond):
	}
}

func (r *Runner) forget(inv *invocation, exited chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if inv != nil {
		delete(r.inflight, inv.id)
	}
	if exited != nil && r.exited == exited {
		r.proc, r.exited = nil, nil
	}
	// An undelivered event must not reach the next process.
	select {
	case <-r.next:
	default:
	}
}

// memory reads a line of the process's /proc status in kB (VmHWM: peak resident set; VmRSS:
// resident now), 0 where unknown.
func (r *Runner) memory(field string) int64 {
	r.mu.Lock()
	proc := r.proc
	r.mu.Unlock()
	if proc == nil || proc.Process == nil {
		return 0
	}
	return statusKB(strconv.Itoa(proc.Process.Pid), field)
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func traceID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), h[:24], h[24:40])
}
