package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulse-sessions/pulse/internal/eventbus"
	"github.com/pulse-sessions/pulse/internal/lambdarun"
	"github.com/pulse-sessions/pulse/internal/template"
)

// invoke builds a function's bootstrap as sam build would (for this machine's architecture),
// runs it under AWS's Lambda Runtime Interface Emulator (aws-lambda-rie, pinned in go.mod)
// against make run's DynamoDB Local with the function's environment from template.yaml, hands
// it the event, and prints the response, RIE's INIT and REPORT lines, and the bootstrap's peak
// memory as the kernel measured it (RIE's REPORT prints the memory size there instead).
// $PULSE_* in the event come from .pulse/local.env.
func invoke(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fn := fs.String("fn", "", "the function's logical ID in template.yaml")
	eventPath := fs.String("event", "", "the event file (events/<function>.json)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fn == "" || *eventPath == "" {
		return errors.New("usage: pulse invoke -fn LogicalId -event events/<file>.json (make invoke FN=… EVENT=…)")
	}
	tpl, root, err := template.Repo()
	if err != nil {
		return err
	}
	if r, ok := tpl.Resources[*fn]; !ok || r.Type != "AWS::Serverless::Function" {
		return fmt.Errorf("no function %s in template.yaml (functions: %s)", *fn, strings.Join(tpl.Functions(), ", "))
	}
	event, err := os.ReadFile(*eventPath)
	if err != nil {
		return err
	}
	creds := readEnv(filepath.Join(root, ".pulse", "local.env"))
	var pairs []string
	for _, k := range envKeys {
		pairs = append(pairs, "$"+k, creds[k])
	}
	event = []byte(strings.NewReplacer(pairs...).Replace(string(event)))

	if _, err := localClient(ctx, getenv); err != nil {
		return err
	}
	endpoint, _ := localEndpoint(getenv)
	fmt.Fprintf(out, "Building %s (make build-%s)…\n", *fn, *fn)
	bins, err := lambdarun.Build(ctx, root, filepath.Join(root, ".cache", "invoke"), "", *fn)
	if err != nil {
		return err
	}
	// The publisher's PutEvents go to a stand-in of EventBridge, which prints what it receives.
	bus := eventbus.New("pulse-local-events")
	defer bus.Close()
	bus.OnEvent = func(e eventbus.Event) { fmt.Fprintf(out, "event  %-20s %s\n", e.DetailType, e.Detail) }
	f, err := lambdarun.FromTemplate(tpl, *fn, bins[*fn], map[string]string{tableID: tableName(getenv), "PulseEventBus": bus.Bus},
		"AWS_REGION="+localRegion, "AWS_DEFAULT_REGION="+localRegion,
		"AWS_ACCESS_KEY_ID="+localAccessKey, "AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB="+endpoint, "AWS_ENDPOINT_URL_EVENTBRIDGE="+bus.URL)
	if err != nil {
		return err
	}
	f.Output = os.Stderr // the function's own logs, as CloudWatch would get them
	rie, err := lambdarun.BuildRIE(ctx, root, filepath.Join(root, ".cache", "invoke"))
	if err != nil {
		return err
	}
	r, err := lambdarun.NewRIE(f, rie)
	if err != nil {
		return err
	}
	defer r.Close()
	res, err := r.Invoke(ctx, event)
	if err != nil {
		return err
	}
	if res.Error != nil {
		b, _ := json.Marshal(res.Error)
		fmt.Fprintf(out, "\nFunction error (request %s):\n%s\n", res.RequestID, b)
	} else {
		var pretty bytes.Buffer
		if json.Indent(&pretty, res.Payload, "", "  ") != nil {
			pretty.Write(res.Payload)
		}
		fmt.Fprintf(out, "\nResponse (request %s):\n%s\n", res.RequestID, pretty.String())
	}
	fmt.Fprintln(out, "\naws-lambda-rie:")
	for _, l := range lambdarun.ReportLines(r.Output()) {
		fmt.Fprintln(out, "  "+l)
	}
	fmt.Fprintf(out, "Peak memory of the bootstrap (VmHWM): %d MB of %d MB\n", (res.MaxMemoryKB+1023)/1024, f.MemoryMB)
	if res.Error != nil {
		return fmt.Errorf("%s failed: %s", *fn, res.Error.Type)
	}
	return nil
}
