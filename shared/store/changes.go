package store

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// What a change to the table means to the outside world, as the table's stream shows it (old
// and new images). template.yaml's event source mapping filters the stream to these same
// changes (PublishEventsFunction's FilterCriteria) so that nothing else, heartbeats above all,
// invokes the publisher; Classify decides again, so that a filter too wide never publishes
// anything wrong.
const (
	ChangeStarted = "started" // a session item appears, live
	ChangeEnded   = "ended"   // a live session item becomes ended (revoked, idle, expired, evicted, erased)
	ChangeErased  = "erased"  // a user's erasure begins: the tombstone appears on the user item
)

// Change is one change that Pulse publishes.
type Change struct {
	Kind    string
	Session *pulse.Session // started, ended
	Tenant  string
	User    string
	At      time.Time // when the session started or ended, or the erasure began
}

// Classify reads a stream record's images (either may be nil) and reports the change it
// holds, if any Pulse publishes.
func Classify(old, cur map[string]types.AttributeValue) (Change, bool, error) {
	kind, status := stringAttr(cur, "type"), stringAttr(cur, "status")
	switch {
	case kind == "session" && old == nil && status == pulse.StatusActive,
		kind == "session" && stringAttr(old, "status") == pulse.StatusActive && status == pulse.StatusEnded:
		var it sessionItem
		if err := attributevalue.UnmarshalMap(cur, &it); err != nil {
			return Change{}, false, fmt.Errorf("store: a session's image: %w", err)
		}
		s := it.session()
		if status == pulse.StatusEnded {
			return Change{Kind: ChangeEnded, Session: s, Tenant: it.Tenant, User: it.User, At: s.EndedAt}, true, nil
		}
		return Change{Kind: ChangeStarted, Session: s, Tenant: it.Tenant, User: it.User, At: s.InitiatedAt}, true, nil
	case kind == "user" && cur["erased"] != nil && old != nil && old["erased"] == nil:
		var it userItem
		if err := attributevalue.UnmarshalMap(cur, &it); err != nil {
			return Change{}, false, fmt.Errorf("store: a user's image: %w", err)
		}
		return Change{Kind: ChangeErased, Tenant: it.Tenant, User: it.ID, At: time.UnixMilli(it.Erased)}, true, nil
	}
	return Change{}, false, nil
}

func stringAttr(img map[string]types.AttributeValue, name string) string {
	if s, ok := img[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
