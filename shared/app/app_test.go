package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/lambdarun"
	"github.com/pulse-sessions/pulse/internal/template"
)

func load(t *testing.T) *template.Template {
	t.Helper()
	tpl, err := template.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// The routes in template.yaml and the routes the surfaces serve agree one to one.
func TestRoutesMatchTemplate(t *testing.T) {
	tpl := load(t)
	inTemplate := map[string]string{}
	for _, rt := range tpl.Routes() {
		if prev, dup := inTemplate[rt.Key()]; dup {
			t.Errorf("route %s is served by both %s and %s", rt.Key(), prev, rt.Function)
		}
		inTemplate[rt.Key()] = rt.Function
	}
	inCode := map[string]bool{}
	for _, rt := range Routes() {
		if inCode[rt.Key] {
			t.Errorf("route %s is listed by two surfaces", rt.Key)
		}
		inCode[rt.Key] = true
	}
	for key, fn := range inTemplate {
		if !inCode[key] {
			t.Errorf("template: %s → %s; no surface serves it", key, fn)
		}
	}
	for key := range inCode {
		if inTemplate[key] == "" {
			t.Errorf("code serves %s; template.yaml has no function for it", key)
		}
	}
}

// Every function of the template has its folder, its build target, and a main.go that starts
// the routes of that very function (or, for a function without a route, its task).
func TestFunctionsAreWired(t *testing.T) {
	tpl := load(t)
	folders, err := lambdarun.Targets("../..")
	if err != nil {
		t.Fatal(err)
	}
	routeOf := map[string]string{} // the function's route keys, sorted, as main.go lists them
	for _, rt := range tpl.Routes() {
		keys := append(strings.Split(routeOf[rt.Function], "\x00"), rt.Key())
		if routeOf[rt.Function] == "" {
			keys = keys[1:]
		}
		sort.Strings(keys)
		routeOf[rt.Function] = strings.Join(keys, "\x00")
	}
	var fns []string
	for _, id := range tpl.Functions() {
		fns = append(fns, id)
		folder, ok := folders[id]
		if !ok {
			t.Errorf("%s: no build-%s target in functions/functions.mk", id, id)
			continue
		}
		src, err := os.ReadFile(filepath.Join("../../functions", folder, "main.go"))
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		starts := regexp.MustCompile(`app\.(Lambda|Task)\(deps, ("[^)]+")\)`).FindStringSubmatch(string(src))
		if starts != nil {
			var args []string
			for _, q := range strings.Split(starts[2], ", ") {
				a, _ := strconv.Unquote(q)
				args = append(args, a)
			}
			starts[2] = strings.Join(args, "\x00")
		}
		want := []string{"Lambda", routeOf[id]}
		if routeOf[id] == "" {
			want = []string{"Task", id}
		}
		if starts == nil || starts[1] != want[0] || starts[2] != want[1] {
			t.Errorf("%s: functions/%s/main.go starts %v, want app.%s(deps, %q)", id, folder, starts, want[0], want[1])
		}
	}
	if len(folders) != len(fns) {
		sort.Strings(fns)
		t.Errorf("functions/functions.mk has %d build targets, template %d functions (%v)", len(folders), len(fns), fns)
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{"TABLE_NAME": "T", "SESSION_IDLE_TIMEOUT": "15m", "SESSION_RETENTION": "7d", "ACTIVE_SHARDS": "4", "NEW_DEVICE_WINDOW": "30d", "EVENT_BUS_NAME": "b"}
	c, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy.IdleTimeout != 15*time.Minute || c.Policy.Retention != 7*24*time.Hour || c.ActiveShards != 4 || c.Policy.MaxLifetime != 24*time.Hour ||
		c.Policy.NewDeviceWindow != 30*24*time.Hour || c.EventBus != "b" {
		t.Errorf("config = %+v", c)
	}
	for _, bad := range []map[string]string{
		{},
		{"TABLE_NAME": "T", "SESSION_IDLE_TIMEOUT": "15"},
		{"TABLE_NAME": "T", "SESSION_IDLE_TIMEOUT": "-5m"},
		{"TABLE_NAME": "T", "SESSION_IDLE_TIMEOUT": "2d", "SESSION_MAX_LIFETIME": "1d"},
		{"TABLE_NAME": "T", "ACTIVE_SHARDS": "17"},
		{"TABLE_NAME": "T", "SESSION_RETENTION": "12h"},  // shorter than a session can live
		{"TABLE_NAME": "T", "SESSION_RETENTION": "401d"}, // more day counters than a user item should hold
		{"TABLE_NAME": "T", "ACTIVE_WINDOW": "5x"},
		{"TABLE_NAME": "T", "NEW_DEVICE_WINDOW": "12h"},  // less than the day it counts in
		{"TABLE_NAME": "T", "NEW_DEVICE_WINDOW": "401d"}, // longer than anything else is kept
		{"TABLE_NAME": "T", "ACTIVE_WINDOW": "61m"},
		{"TABLE_NAME": "T", "ACTIVE_WINDOW": "30s"},
		{"TABLE_NAME": "T", "SESSION_IDLE_TIMEOUT": "25h", "SESSION_MAX_LIFETIME": "2d"},
		{"TABLE_NAME": "T", "SESSION_IDLE_TIMEOUT": "9m"},                          // expires before the default 5m window plus its bucket
		{"TABLE_NAME": "T", "ACTIVE_WINDOW": "26m"},                                // the default 30m idle timeout would end sessions the list still counts
		{"TABLE_NAME": "T", "BEHIND_CLOUDFRONT": "true"},                           // without its secret
		{"TABLE_NAME": "T", "BEHIND_CLOUDFRONT": "true", "ORIGIN_SECRET": "short"}, // guessable
		{"TABLE_NAME": "T", "BEHIND_CLOUDFRONT": "yes"},
	} {
		if _, err := LoadConfig(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("LoadConfig(%v) succeeded, want an error", bad)
		}
	}
}

// What template.yaml lets a deployment set, the code accepts, and the code's extremes can be
// set: every value a duration parameter's AllowedPattern matches is within the code's bounds,
// and the least and the most the code allows are matched in some unit; every numeric
// parameter's MinValue and MaxValue are the code's.
func TestTemplateBoundsMatchCode(t *testing.T) {
	tpl := load(t)
	vars, _ := tpl.Globals["Function"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
	param := func(env string) map[string]any {
		ref, _ := vars[env].(map[string]any)
		p, _ := tpl.Parameters[fmt.Sprint(ref["Ref"])].(map[string]any)
		if p == nil {
			t.Fatalf("%s is not set from a parameter", env)
		}
		return p
	}
	units := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	for env, b := range DurationBounds {
		re := regexp.MustCompile(fmt.Sprint(param(env)["AllowedPattern"]))
		minOK, maxOK := false, false
		for u, unit := range units {
			for _, n := range []int64{0, 1, 2, 23, 24, 25, 59, 60, 61, 99, 100, 399, 400, 401, 999, 1000, 1439, 1440, 1441, 9599, 9600, 9999, 10000} {
				v, d := fmt.Sprintf("%d%s", n, u), time.Duration(n)*unit
				if !re.MatchString(v) {
					continue
				}
				if d < b[0] || d > b[1] {
					t.Errorf("%s: the template allows %s, which the code refuses (%s..%s)", env, v, b[0], b[1])
				}
				minOK, maxOK = minOK || d == b[0], maxOK || d == b[1]
			}
		}
		if !minOK || !maxOK {
			t.Errorf("%s: the template's pattern %s does not allow the code's bounds %s and %s", env, re, b[0], b[1])
		}
	}
	for env, b := range NumberBounds {
		p := param(env)
		if p["MinValue"] != int64(b[0]) || p["MaxValue"] != int64(b[1]) {
			t.Errorf("%s: the template allows %v..%v, the code %d..%d", env, p["MinValue"], p["MaxValue"], b[0], b[1])
		}
	}
}

// The template's parameter defaults are the documented defaults in code.
func TestTemplateDefaultsMatchCode(t *testing.T) {
	tpl := load(t)
	env, err := tpl.Environment(tpl.Functions()[0], map[string]string{"PulseTable": "T"})
	if err != nil {
		t.Fatal(err)
	}
	fromTemplate, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	fromCode, _ := LoadConfig(func(k string) string { return map[string]string{"TABLE_NAME": "T"}[k] })
	if fromTemplate.Policy != fromCode.Policy || fromTemplate.ActiveShards != fromCode.ActiveShards {
		t.Errorf("template defaults %+v differ from code defaults %+v", fromTemplate, fromCode)
	}
}

// A function's client comes from the environment Lambda sets, and a missing part of it is a
// cold-start error that says what is missing, not a first request that fails.
func TestClientFromEnv(t *testing.T) {
	full := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_SESSION_TOKEN": "token", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}
	c, err := ClientFromEnv(func(k string) string { return full[k] })
	if err != nil {
		t.Fatal(err)
	}
	o := c.Options()
	creds, err := o.Credentials.Retrieve(t.Context())
	if o.Region != "eu-west-1" || o.BaseEndpoint == nil || *o.BaseEndpoint != "http://127.0.0.1:8000" || err != nil ||
		creds.AccessKeyID != "AKIDEXAMPLE" || creds.SessionToken != "token" {
		t.Errorf("client options: region %q, endpoint %v, credentials %q/%v", o.Region, o.BaseEndpoint, creds.AccessKeyID, err)
	}
	if o.Retryer.MaxAttempts() != 3 {
		t.Errorf("retryer allows %d attempts, want ClientOptions' 3", o.Retryer.MaxAttempts())
	}
	for _, missing := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		_, err := ClientFromEnv(func(k string) string {
			if k == missing {
				return ""
			}
			return full[k]
		})
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s: %v, want an error naming it", missing, err)
		}
	}
}

// The publisher's EventBridge client is built the same way, and AWS_ENDPOINT_URL_EVENTBRIDGE
// points it at a stand-in (the tests, make run).
func TestEventBridgeFromEnv(t *testing.T) {
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_ENDPOINT_URL_EVENTBRIDGE": "http://127.0.0.1:9999"}
	c, err := EventBridgeFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Options(); o.Region != "eu-west-1" || o.BaseEndpoint == nil || *o.BaseEndpoint != "http://127.0.0.1:9999" || o.Retryer.MaxAttempts() != 3 {
		t.Errorf("client options: region %q, endpoint %v", o.Region, o.BaseEndpoint)
	}
	if _, err := EventBridgeFromEnv(func(k string) string { return map[string]string{"AWS_REGION": "eu-west-1"}[k] }); err == nil {
		t.Error("no credentials: want an error")
	}
	// Only the publisher is given a bus; without one it refuses to start.
	if _, err := Publish(&Deps{}); err == nil {
		t.Error("Publish without EVENT_BUS_NAME: want a cold-start error")
	}
}

// The functions' binaries link only what a function runs: not the local server, the template
// parser or the SDK's config package (with its SSO, STS and sign-in clients), whose package
// initialisers would add to every cold start.
func TestFunctionsLinkOnlyWhatLambdaNeeds(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "../../functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	banned := []string{"gopkg.in/yaml.v3", "github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/service/sts",
		"github.com/aws/aws-sdk-go-v2/service/sso", "github.com/pulse-sessions/pulse/internal/template",
		"github.com/pulse-sessions/pulse/internal/localapi", "github.com/pulse-sessions/pulse/internal/lambdarun", "net/rpc"}
	for _, pkg := range strings.Fields(string(out)) {
		if slices.Contains(banned, pkg) {
			t.Errorf("a function links %s", pkg)
		}
	}
}

// shared/ is the runtime and only the runtime: every package under it is linked by some
// function, and no function links a package of internal/ (local tooling) or cmd/.
func TestSharedIsTheRuntime(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "../../functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	linked := strings.Fields(string(out))
	const module = "github.com/pulse-sessions/pulse/"
	for _, pkg := range linked {
		if strings.HasPrefix(pkg, module+"internal/") || strings.HasPrefix(pkg, module+"cmd/") {
			t.Errorf("a function links the tooling package %s", pkg)
		}
	}
	all, err := exec.Command("go", "list", module+"shared/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, all)
	}
	for _, pkg := range strings.Fields(string(all)) {
		if !slices.Contains(linked, pkg) {
			t.Errorf("%s is under shared/ but no function links it: tooling belongs in internal/", pkg)
		}
	}
}
