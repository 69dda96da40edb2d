package lambdarun_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/lambdarun"
)

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/fn")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestRuntimeAPI(t *testing.T) {
	r, err := lambdarun.New(lambdarun.Function{Name: "fn", Binary: build(t), Env: []string{"TABLE_NAME=T"}, Timeout: 2 * time.Second, MemoryMB: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	pid := func(res *lambdarun.Result) float64 {
		var out map[string]any
		if res.Error != nil || json.Unmarshal(res.Payload, &out) != nil {
			t.Fatalf("no payload: %+v", res)
		}
		if out["has_deadline"] != true || out["table"] != "T" {
			t.Errorf("the function saw %v: want a deadline and its environment", out)
		}
		return out["pid"].(float64)
	}
	invoke := func(op string) *lambdarun.Result {
		t.Helper()
		res, err := r.Invoke(ctx, []byte(`{"op":"`+op+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	first := invoke("echo")
	if !first.Cold || first.InitDuration <= 0 || first.MaxMemoryKB <= 0 || first.InitMemoryKB <= 0 {
		t.Errorf("first invocation: cold %v, init %v, memory %d kB; want a measured cold start", first.Cold, first.InitDuration, first.MaxMemoryKB)
	}
	p1 := pid(first)
	second := invoke("echo")
	if second.Cold || pid(second) != p1 {
		t.Errorf("second invocation: cold %v; want the same warm process", second.Cold)
	}

	if res := invoke("error"); res.Error == nil || res.Error.Message != "asked to fail" || res.Error.Type != "errorString" {
		t.Errorf("a returned error: %+v, want errorString: asked to fail", res.Error)
	}
	if res := invoke("echo"); res.Cold {
		t.Error("a returned error restarted the process; Lambda keeps it")
	}

	for _, op := range []string{"panic", "exit", "sleep"} {
		res := invoke(op)
		want := map[string]string{"panic": "string", "exit": "Runtime.ExitError", "sleep": "Sandbox.Timedout"}[op]
		if res.Error == nil || res.Error.Type != want {
			t.Errorf("%s: error %+v, want type %s", op, res.Error, want)
		}
		after := invoke("echo")
		if !after.Cold || pid(after) == p1 {
			t.Errorf("after %s: cold %v; want a fresh process", op, after.Cold)
		}
		p1 = pid(after)
	}
}
