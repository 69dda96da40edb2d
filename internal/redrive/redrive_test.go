package redrive_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pulse-sessions/pulse/internal/apptest"
	"github.com/pulse-sessions/pulse/internal/ddbtest"
	"github.com/pulse-sessions/pulse/internal/eventbus"
	"github.com/pulse-sessions/pulse/internal/redrive"
	"github.com/pulse-sessions/pulse/shared/publish"
)

func TestMain(m *testing.M) { ddbtest.Main(m) }

// queue is a stand-in for the SQS dead-letter queue (SQS has no local emulator): it hands out
// its messages and forgets the ones deleted.
type queue struct {
	mu      sync.Mutex
	msgs    map[string]string // receipt handle → body
	deleted []string
}

func (q *queue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := &sqs.ReceiveMessageOutput{}
	for h, b := range q.msgs {
		if len(out.Messages) < int(in.MaxNumberOfMessages) {
			out.Messages = append(out.Messages, sqstypes.Message{ReceiptHandle: aws.String(h), Body: aws.String(b)})
		}
	}
	// Received messages are invisible for the rest of the run, as for a visibility timeout.
	for _, m := range out.Messages {
		delete(q.msgs, *m.ReceiptHandle)
	}
	return out, nil
}

func (q *queue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deleted = append(q.deleted, *in.ReceiptHandle)
	return &sqs.DeleteMessageOutput{}, nil
}

// A login whose event EventBridge never accepted lands in the dead-letter queue as an
// on-failure record; once the bus takes events again, pulse redrive reads the batch back from
// the table's stream (DynamoDB Local's), publishes it, and deletes the message. A message that
// is not an on-failure record stays in the queue.
func TestRedrivePublishesWhatWasGivenUp(t *testing.T) {
	e := apptest.New(t)
	stack := e.Events()
	failing := true
	stack.Bus.FailEntries(func(eventbus.Event) bool { return failing })
	r := e.Do("POST", "/api/users/alice/sessions", `{"client_id":"web","session_id":"S-alice"}`, apptest.Key(e.Key)...)
	if r.Status != 201 {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	ctx := context.Background()
	if err := stack.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	dead := stack.DeadLetters()
	if len(dead) != 1 || len(stack.Bus.Events()) != 0 {
		t.Fatalf("%d dead letters and %d events, want the login's batch given up on", len(dead), len(stack.Bus.Events()))
	}

	failing = false
	base := *e.Deps.Base
	base.Config.EventBus = stack.Bus.Bus
	client, err := publish.EventBridgeFromEnv(stack.Bus.ClientEnv)
	if err != nil {
		t.Fatal(err)
	}
	publisher, err := publish.NewHandler(&base, client)
	if err != nil {
		t.Fatal(err)
	}
	q := &queue{msgs: map[string]string{"r1": string(dead[0]), "r2": `{"not":"an on-failure record"}`}}
	sum, err := redrive.Run(ctx, q, "https://sqs.local/dead-letters", stack.Mapping.Streams, redrive.Publisher(publisher))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Messages != 2 || sum.Published != 1 || sum.Failed != 1 || sum.Records == 0 {
		t.Errorf("summary %+v, want 2 messages: 1 published, 1 failed", sum)
	}
	if strings.Join(q.deleted, ",") != "r1" {
		t.Errorf("deleted %v, want only the redriven message", q.deleted)
	}
	var got []string
	for _, ev := range stack.Bus.Events() {
		got = append(got, ev.DetailType)
		if !strings.Contains(string(ev.Detail), "S-alice") {
			t.Errorf("%s is not alice's session: %s", ev.DetailType, ev.Detail)
		}
	}
	if strings.Join(got, ",") != "Session Started" {
		t.Errorf("published %v, want alice's Session Started", got)
	}
}

// An on-failure record is read for its batch; anything else is refused with a reason.
func TestParse(t *testing.T) {
	b, err := redrive.Parse([]byte(`{"requestContext":{"condition":"RetryAttemptsExhausted"},"DDBStreamBatchInfo":{"shardId":"s1","startSequenceNumber":"100","endSequenceNumber":"200","batchSize":2,"streamArn":"arn:aws:dynamodb:us-east-1:1:table/T/stream/x"}}`))
	if err != nil || b.ShardID != "s1" || b.Start != "100" || b.End != "200" || b.Size != 2 {
		t.Errorf("Parse: %+v, %v", b, err)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"DDBStreamBatchInfo":{"shardId":"s1"}}`} {
		if _, err := redrive.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}
