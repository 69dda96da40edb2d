package boot

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulse-sessions/pulse/internal/template"
)

func load(t *testing.T) *template.Template {
	t.Helper()
	tpl, _, err := template.Repo()
	if err != nil {
		t.Fatal(err)
	}
	return tpl
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
			for _, n := range []int64{0, 1, 2, 23, 24, 25, 59, 60, 61, 99, 100, 299, 300, 301, 399, 400, 401, 999, 1000, 1439, 1440, 1441, 9599, 9600, 9999, 10000} {
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
