package publish_test

import (
	"testing"

	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/publish"
)

// The publisher's EventBridge client is built the same way, and AWS_ENDPOINT_URL_EVENTBRIDGE
// points it at a stand-in (the tests, make run).
func TestEventBridgeFromEnv(t *testing.T) {
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		"AWS_ENDPOINT_URL_EVENTBRIDGE": "http://127.0.0.1:9999"}
	c, err := publish.EventBridgeFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Options(); o.Region != "eu-west-1" || o.BaseEndpoint == nil || *o.BaseEndpoint != "http://127.0.0.1:9999" || o.Retryer.MaxAttempts() != 3 {
		t.Errorf("client options: region %q, endpoint %v", o.Region, o.BaseEndpoint)
	}
	if _, err := publish.EventBridgeFromEnv(func(k string) string { return map[string]string{"AWS_REGION": "eu-west-1"}[k] }); err == nil {
		t.Error("no credentials: want an error")
	}
	// Only the publisher is given a bus; without one it refuses to start.
	if _, err := publish.NewHandler(&boot.Base{}, c); err == nil {
		t.Error("NewHandler without EVENT_BUS_NAME: want a cold-start error")
	}
	if _, err := publish.Open(&boot.Base{Config: boot.Config{EventBus: "b"}}); err == nil {
		t.Error("Open without the environment boot.Load read: want a cold-start error")
	}
}
