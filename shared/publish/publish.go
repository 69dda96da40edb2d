// Package publish turns the table's stream into Pulse's events on an EventBridge bus: Session
// Started, Session Ended, New Device Detected and User Erased, with source "pulse". It is the
// handler of PublishEventsFunction, which the table's stream invokes through an event source
// mapping (template.yaml: filtered to the changes that matter, partial batch failures, bisection,
// bounded retries, an SQS dead-letter queue).
package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/pulse-sessions/pulse/shared/store"
	"github.com/pulse-sessions/pulse/shared/wire"
)

// Source and detail types of Pulse's events (docs/events.md).
const (
	Source            = "pulse"
	SessionStarted    = "Session Started"
	SessionEnded      = "Session Ended"
	NewDeviceDetected = "New Device Detected"
	UserErased        = "User Erased"
)

// maxEntries is how many entries one PutEvents call takes (EventBridge's limit).
const maxEntries = 10

// API is what the publisher needs of EventBridge.
type API interface {
	PutEvents(context.Context, *eventbridge.PutEventsInput, ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher publishes a batch of stream records.
type Publisher struct {
	Bus    string
	Client API
	Log    *slog.Logger
	// Attempts is how many times an entry is put before its record is reported failed (a
	// PutEvents call can fail some entries and not others: those alone are put again).
	Attempts int
	// Backoff is the pause before attempt n (1, 2, …); jittered exponential when nil.
	Backoff func(n int) time.Duration
	// Metrics receives one CloudWatch embedded-metric-format line per record that could not be
	// read (metric UnreadableStreamRecords, namespace Pulse, which an alarm watches); nil: none.
	Metrics io.Writer
}

// entry is one event, the stream record it comes from, and what its order matters within: the
// session (or the user, for an erasure).
type entry struct {
	seq   string
	key   string
	event ebtypes.PutEventsRequestEntry
}

// Handle publishes the events of a batch of stream records, in the records' order. A record
// whose events could not all be put after Attempts is reported as the batch's failure, so that
// Lambda retries from it (ReportBatchItemFailures): records before it are done, it and those
// after it come again, and consumers drop what they saw twice by record_id. A record that is
// not one of Pulse's changes publishes nothing. A record that cannot be read is never skipped:
// it is the batch's failure too (after the records before it are published), counted in the
// UnreadableStreamRecords metric, so that Lambda retries it and, past the mapping's retries,
// names it in the dead-letter queue, where an operator finds it (docs/operating.md).
func (p *Publisher) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var batch []entry
	unreadable := ""
	for _, rec := range ev.Records {
		evs, err := entries(rec)
		if err != nil {
			unreadable = rec.Change.SequenceNumber
			p.Log.ErrorContext(ctx, "stream record unreadable: reported as the batch's failure", "record_id", rec.EventID, "sequence", unreadable, "error", err.Error())
			p.countUnreadable()
			break // it and the records after it come again
		}
		for _, e := range evs {
			e.event.EventBusName = aws.String(p.Bus)
			e.seq = rec.Change.SequenceNumber
			batch = append(batch, e)
		}
	}
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	if failed := p.put(ctx, batch); failed >= 0 {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: batch[failed].seq})
		p.Log.WarnContext(ctx, "events not published: the batch is retried from their record", "from_sequence", batch[failed].seq, "records", len(ev.Records))
		return resp, nil
	}
	if unreadable != "" {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: unreadable})
		return resp, nil
	}
	p.Log.InfoContext(ctx, "events published", "records", len(ev.Records), "events", len(batch))
	return resp, nil
}

// countUnreadable writes one embedded-metric-format line: UnreadableStreamRecords 1.
func (p *Publisher) countUnreadable() {
	if p.Metrics == nil {
		return
	}
	line, _ := json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": time.Now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace": "Pulse", "Dimensions": [][]string{{"function"}},
				"Metrics": []map[string]string{{"Name": "UnreadableStreamRecords", "Unit": "Count"}},
			}},
		},
		"level": "ERROR", "msg": "unreadable stream record", "function": "publish-events", "UnreadableStreamRecords": 1,
	})
	_, _ = p.Metrics.Write(append(line, '\n'))
}

// put sends entries in order, in calls of at most maxEntries, putting again the entries a call
// failed, up to Attempts times. It returns the index of the first entry that never got through,
// -1 when all did; the calls after it are not made (their records come again with its own).
//
// EventBridge keeps no order among the entries of one call, and the entries a call failed come
// after those it took: so a call never holds two events of one session (Session Started and New
// Device Detected, or a start and an end), which keeps each session's events in order. The
// batch's first record goes in a call of its own: when Lambda retries a batch from a record that
// keeps failing, that record fails alone, and the records after it are not published again.
func (p *Publisher) put(ctx context.Context, entries []entry) int {
	for _, c := range calls(entries) {
		pending := make([]int, 0, c.n) // indexes into entries still to put
		for i := c.start; i < c.start+c.n; i++ {
			pending = append(pending, i)
		}
		for attempt := 1; len(pending) > 0; attempt++ {
			if attempt > max(p.Attempts, 1) || ctx.Err() != nil || (attempt > 1 && !sleep(ctx, p.backoff(attempt-1))) {
				return pending[0]
			}
			in := &eventbridge.PutEventsInput{}
			for _, i := range pending {
				in.Entries = append(in.Entries, entries[i].event)
			}
			out, err := p.Client.PutEvents(ctx, in)
			if err != nil {
				p.Log.WarnContext(ctx, "PutEvents failed", "attempt", attempt, "entries", len(pending), "error", err.Error())
				continue
			}
			if len(out.Entries) != len(pending) { // never from EventBridge: count them all failed
				continue
			}
			var still []int
			for k, res := range out.Entries {
				if res.ErrorCode != nil {
					still = append(still, pending[k])
				}
			}
			if len(still) > 0 {
				p.Log.WarnContext(ctx, "PutEvents failed some entries", "attempt", attempt, "failed", len(still), "of", len(pending),
					"error_code", aws.ToString(out.Entries[slices.Index(pending, still[0])].ErrorCode))
			}
			pending = still
		}
	}
	return -1
}

// span is a run of entries put in one call.
type span struct{ start, n int }

// calls cuts entries into PutEvents calls (see put): at most maxEntries each, never two of
// one session or user, the first record's apart.
func calls(entries []entry) []span {
	var out []span
	keys := map[string]bool{}
	for i, e := range entries {
		last := len(out) - 1
		if last < 0 || out[last].n == maxEntries || keys[e.key] || (i > 0 && entries[i-1].seq == entries[0].seq && e.seq != entries[0].seq) {
			out = append(out, span{start: i})
			last++
			clear(keys)
		}
		out[last].n++
		keys[e.key] = true
	}
	return out
}

func (p *Publisher) backoff(n int) time.Duration {
	if p.Backoff != nil {
		return p.Backoff(n)
	}
	d := min(50*time.Millisecond<<n, time.Second)
	return d/2 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// entries returns the events one stream record stands for, none when it is not one of Pulse's
// changes (store.Classify).
func entries(rec events.DynamoDBEventRecord) ([]entry, error) {
	old, err := image(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	cur, err := image(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	c, ok, err := store.Classify(old, cur)
	if err != nil || !ok {
		return nil, err
	}
	var out []entry
	add := func(key, detailType string, detail any) error {
		b, err := json.Marshal(detail)
		if err != nil {
			return err
		}
		out = append(out, entry{key: key, event: ebtypes.PutEventsRequestEntry{Source: aws.String(Source), DetailType: aws.String(detailType),
			Detail: aws.String(string(b)), Time: aws.Time(c.At)}})
		return nil
	}
	switch c.Kind {
	case store.ChangeStarted:
		d := sessionDetail(rec.EventID, c)
		err = add("S#"+d.SessionID, SessionStarted, d)
		if err == nil && (c.Session.NewDevice || c.Session.NewLocation) {
			err = add("S#"+d.SessionID, NewDeviceDetected, d)
		}
	case store.ChangeEnded:
		d := sessionDetail(rec.EventID, c)
		d.EndReason = c.Session.EndReason
		err = add("S#"+d.SessionID, SessionEnded, d)
	case store.ChangeErased:
		err = add("U#"+c.User, UserErased, ErasedDetail{RecordID: rec.EventID, TenantID: c.Tenant, UserID: c.User, ErasedAt: c.At.Unix()})
	}
	return out, err
}

// SessionDetail is the detail of the session events: the session in the management API's
// shape without its session_key, the device as the admin API names its parts, and the stream
// record's ID, by which a consumer drops an event it has seen (delivery is at least once).
type SessionDetail struct {
	RecordID  string `json:"record_id"`
	TenantID  string `json:"tenant_id"`
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
	// EndReason is the session's end_reason, on Session Ended only.
	EndReason string     `json:"end_reason,omitempty"`
	Device    DeviceJSON `json:"device"`
	Session   any        `json:"session"`
}

// DeviceJSON is what the user agent told: browser family, its version and the OS.
type DeviceJSON struct {
	Browser        string `json:"browser"`
	BrowserVersion string `json:"browser_version"`
	OS             string `json:"os"`
}

// ErasedDetail is the detail of User Erased.
type ErasedDetail struct {
	RecordID string `json:"record_id"`
	TenantID string `json:"tenant_id"`
	UserID   string `json:"user_id"`
	ErasedAt int64  `json:"erased_at"`
}

func sessionDetail(recordID string, c store.Change) SessionDetail {
	s := c.Session
	return SessionDetail{RecordID: recordID, TenantID: c.Tenant, UserID: c.User, SessionID: s.ID,
		Device:  DeviceJSON{Browser: s.Device.Browser, BrowserVersion: s.Device.Version, OS: s.Device.OS},
		Session: wire.EventSession(s, c.At)}
}

// image converts a stream record's image as Lambda delivers it into the SDK's attribute values.
func image(img map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if img == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := attribute(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func attribute(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeMap:
		m, err := image(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case events.DataTypeList:
		var l []types.AttributeValue
		for _, e := range v.List() {
			av, err := attribute(e)
			if err != nil {
				return nil, err
			}
			l = append(l, av)
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	}
	return nil, fmt.Errorf("unknown data type %v", v.DataType())
}
