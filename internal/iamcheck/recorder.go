package iamcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Call is one IAM authorization a request needs: the function whose role makes it, the action,
// the resource's ARN.
type Call struct {
	Function string `json:"function"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
}

func (c Call) String() string {
	return fmt.Sprintf("%s: %s on %s", c.Function, c.Action, Short(c.Resource))
}

type functionKey struct{}

// WithFunction returns ctx whose AWS calls are made by function (a logical ID of the template):
// what the local API server does for each request, and the harnesses for the tasks.
func WithFunction(ctx context.Context, function string) context.Context {
	return context.WithValue(ctx, functionKey{}, function)
}

// Function returns the function ctx's calls are attributed to, "" for none (a test's setup).
func Function(ctx context.Context) string {
	f, _ := ctx.Value(functionKey{}).(string)
	return f
}

// Recorder checks each attributed call against the policies and remembers what it saw.
type Recorder struct {
	// Persist writes each distinct call to $PULSE_IAM_RECORD, for `pulse iam`: set on the
	// recorders that hold template.yaml's own policies, never on a test's made-up ones.
	Persist bool

	policies Policies

	mu     sync.Mutex
	calls  map[Call]int
	denied []Call
	iters  map[string]string // a stream's shard iterator → the stream's ARN
}

// New returns a recorder that holds calls to policies.
func New(policies Policies) *Recorder {
	return &Recorder{policies: policies, calls: map[Call]int{}, iters: map[string]string{}}
}

// Record checks one authorization: an attributed call the function's policy does not grant is
// remembered as denied and answered with the error AWS gives (AccessDeniedException). Calls
// without a function (a test's own setup) pass unchecked.
func (r *Recorder) Record(ctx context.Context, action, resource string) error {
	fn := Function(ctx)
	if fn == "" {
		return nil
	}
	c := Call{Function: fn, Action: action, Resource: resource}
	ok := r.policies.Allows(fn, action, resource)
	r.mu.Lock()
	r.calls[c]++
	first := r.calls[c] == 1
	if !ok {
		r.denied = append(r.denied, c)
	}
	r.mu.Unlock()
	if first && r.Persist {
		sink.write(c)
	}
	if !ok {
		return &smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient,
			Message: fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/%s-role/%s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
				Account, fn, fn, action, resource, action)}
	}
	return nil
}

// Calls returns the distinct calls seen so far, sorted.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Call, 0, len(r.calls))
	for c := range r.calls {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Denied returns the calls refused so far, in order.
func (r *Recorder) Denied() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.denied...)
}

// DynamoDB is the client option that records the DynamoDB client's calls.
func (r *Recorder) DynamoDB(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, r.attach) }

// Streams is the client option that records the DynamoDB Streams client's calls (the event
// source mapping reads the stream with the function's role).
func (r *Recorder) Streams(o *dynamodbstreams.Options) { o.APIOptions = append(o.APIOptions, r.attach) }

// EventBridge is the client option that records the EventBridge client's calls.
func (r *Recorder) EventBridge(o *eventbridge.Options) { o.APIOptions = append(o.APIOptions, r.attach) }

// attach puts the recorder first in a client's middleware stack, where the operation's input
// is still the typed struct.
func (r *Recorder) attach(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("iamcheck", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		auths, err := r.authorizations(in.Parameters)
		if err != nil && Function(ctx) != "" {
			return middleware.InitializeOutput{}, middleware.Metadata{}, err
		}
		for _, a := range auths {
			if err := r.Record(ctx, a.action, a.resource); err != nil {
				return middleware.InitializeOutput{}, middleware.Metadata{}, err
			}
		}
		out, md, err := next.HandleInitialize(ctx, in)
		if err == nil {
			r.follow(in.Parameters, out.Result)
		}
		return out, md, err
	}), middleware.Before)
}

type authorization struct{ action, resource string }

// authorizations returns what IAM authorizes for one request, as AWS's service authorization
// reference lists it: a transaction per item (PutItem, UpdateItem, DeleteItem,
// ConditionCheckItem), a batch per table, a query on an index on the index's ARN.
func (r *Recorder) authorizations(input any) ([]authorization, error) {
	one := func(action, resource string) []authorization { return []authorization{{action, resource}} }
	switch in := input.(type) {
	case *dynamodb.GetItemInput:
		return one("dynamodb:GetItem", TableARN(name(in.TableName))), nil
	case *dynamodb.PutItemInput:
		return one("dynamodb:PutItem", TableARN(name(in.TableName))), nil
	case *dynamodb.UpdateItemInput:
		return one("dynamodb:UpdateItem", TableARN(name(in.TableName))), nil
	case *dynamodb.DeleteItemInput:
		return one("dynamodb:DeleteItem", TableARN(name(in.TableName))), nil
	case *dynamodb.QueryInput:
		return one("dynamodb:Query", onIndex(name(in.TableName), in.IndexName)), nil
	case *dynamodb.ScanInput:
		return one("dynamodb:Scan", onIndex(name(in.TableName), in.IndexName)), nil
	case *dynamodb.BatchGetItemInput:
		return perTable("dynamodb:BatchGetItem", keys(in.RequestItems)), nil
	case *dynamodb.BatchWriteItemInput:
		return perTable("dynamodb:BatchWriteItem", keys(in.RequestItems)), nil
	case *dynamodb.TransactGetItemsInput:
		var out []authorization
		for _, it := range in.TransactItems {
			if it.Get != nil {
				out = append(out, authorization{"dynamodb:GetItem", TableARN(name(it.Get.TableName))})
			}
		}
		return out, nil
	case *dynamodb.TransactWriteItemsInput:
		var out []authorization
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				out = append(out, authorization{"dynamodb:PutItem", TableARN(name(it.Put.TableName))})
			case it.Update != nil:
				out = append(out, authorization{"dynamodb:UpdateItem", TableARN(name(it.Update.TableName))})
			case it.Delete != nil:
				out = append(out, authorization{"dynamodb:DeleteItem", TableARN(name(it.Delete.TableName))})
			case it.ConditionCheck != nil:
				out = append(out, authorization{"dynamodb:ConditionCheckItem", TableARN(name(it.ConditionCheck.TableName))})
			}
		}
		return out, nil
	case *dynamodb.DescribeTableInput:
		return one("dynamodb:DescribeTable", TableARN(name(in.TableName))), nil
	case *dynamodbstreams.DescribeStreamInput:
		return one("dynamodb:DescribeStream", streamOf(aws.ToString(in.StreamArn))), nil
	case *dynamodbstreams.GetShardIteratorInput:
		return one("dynamodb:GetShardIterator", streamOf(aws.ToString(in.StreamArn))), nil
	case *dynamodbstreams.GetRecordsInput:
		r.mu.Lock()
		arn := r.iters[aws.ToString(in.ShardIterator)]
		r.mu.Unlock()
		if arn == "" {
			return nil, fmt.Errorf("iamcheck: GetRecords with a shard iterator of no known stream")
		}
		return one("dynamodb:GetRecords", arn), nil
	case *dynamodbstreams.ListStreamsInput:
		return one("dynamodb:ListStreams", "*"), nil
	case *eventbridge.PutEventsInput:
		buses := map[string]bool{}
		for _, e := range in.Entries {
			bus := aws.ToString(e.EventBusName)
			if bus == "" {
				bus = "default"
			}
			if !strings.HasPrefix(bus, "arn:") {
				bus = BusARN(bus)
			}
			buses[bus] = true
		}
		var out []authorization
		for b := range buses {
			out = append(out, authorization{"events:PutEvents", b})
		}
		return out, nil
	}
	// Anything else is a call this package does not know how to authorize: refused, so that a
	// new kind of call cannot slip past the check.
	return nil, fmt.Errorf("iamcheck: no IAM mapping for %T", input)
}

// follow remembers which stream a shard iterator reads, from the answers that hand one out.
func (r *Recorder) follow(input, result any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch in := input.(type) {
	case *dynamodbstreams.GetShardIteratorInput:
		if out, ok := result.(*dynamodbstreams.GetShardIteratorOutput); ok && out.ShardIterator != nil {
			r.iters[*out.ShardIterator] = streamOf(aws.ToString(in.StreamArn))
		}
	case *dynamodbstreams.GetRecordsInput:
		if out, ok := result.(*dynamodbstreams.GetRecordsOutput); ok && out.NextShardIterator != nil {
			r.iters[*out.NextShardIterator] = r.iters[aws.ToString(in.ShardIterator)]
		}
	}
}

// name is a table's name, whether the request named it or gave its ARN.
func name(table *string) string {
	s := aws.ToString(table)
	if i := strings.LastIndex(s, ":table/"); i >= 0 {
		s = s[i+len(":table/"):]
		s, _, _ = strings.Cut(s, "/")
	}
	return s
}

func onIndex(table string, index *string) string {
	if index == nil {
		return TableARN(table)
	}
	return IndexARN(table, *index)
}

// streamOf maps a stream ARN as DynamoDB Local gives it (its own region and label) to the
// table's StreamARN.
func streamOf(arn string) string {
	if i := strings.Index(arn, ":table/"); i >= 0 {
		table, _, _ := strings.Cut(arn[i+len(":table/"):], "/")
		return StreamARN(table)
	}
	return arn
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func perTable(action string, tables []string) []authorization {
	var out []authorization
	for _, t := range tables {
		out = append(out, authorization{action, TableARN(name(&t))})
	}
	return out
}

// RecordEnv names the directory where each test process writes the calls it saw (make test sets
// it; `pulse iam` reads it).
const RecordEnv = "PULSE_IAM_RECORD"

// sink writes each distinct call of this process, once, to $PULSE_IAM_RECORD/<pid>.jsonl.
var sink = &writer{}

type writer struct {
	mu   sync.Mutex
	once sync.Once
	f    *os.File
	seen map[Call]bool
}

func (w *writer) write(c Call) {
	w.once.Do(func() {
		dir := os.Getenv(RecordEnv)
		if dir == "" {
			return
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "iamcheck:", err)
			return
		}
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.jsonl", os.Getpid())), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "iamcheck:", err)
			return
		}
		w.f, w.seen = f, map[Call]bool{}
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil || w.seen[c] {
		return
	}
	w.seen[c] = true
	b, _ := json.Marshal(c)
	_, _ = w.f.Write(append(b, '\n'))
}

// ReadCalls reads every call written under dir.
func ReadCalls(dir string) ([]Call, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	seen := map[Call]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			var c Call
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				return nil, fmt.Errorf("iamcheck: %s: %w", f, err)
			}
			seen[c] = true
		}
	}
	out := make([]Call, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}
