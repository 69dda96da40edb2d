package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// Import writes users and sessions as given, in batches of 25, overwriting items with the same
// keys and checking no invariant: it is for loading history into a table (migrations, demo
// data, benchmarks), never for the API. Sessions keep their times, state and location; a live
// session enters the active index by its last activity. zone decides each session's day. Each
// listed user is written whole, its counters (live sessions, starts per day) from the sessions
// given: import a user together with all of its sessions. Listed users count as new on the day
// they were created; LoadHistory loads what they did.
func (s *Store) Import(ctx context.Context, users []pulse.User, sessions []*pulse.Session, zone *time.Location) error {
	var reqs []types.WriteRequest
	put := func(v any) error {
		item, err := attributevalue.MarshalMap(v)
		if err != nil {
			return err
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		return nil
	}
	// A user's live sessions carry the user's name and type; the user's login counter starts at
	// their number (see CreateSession).
	live := map[string]int{}
	starts, clientStarts := map[string]map[string]int{}, map[string]map[string]int{}
	byUser := map[string]pulse.User{}
	for _, u := range users {
		byUser[u.TenantID+"\x00"+u.ID] = u
	}
	first := s.horizon(s.now())
	// The tenant's new-user counters learn of the listed users' creation; activity counters are
	// LoadHistory's (a user's days must be loaded at once for WAU and MAU to come out right).
	created := map[string]map[string]string{}
	for _, u := range users {
		if created[u.TenantID] == nil {
			created[u.TenantID] = map[string]string{}
		}
		created[u.TenantID][u.ID] = dayOf(u.CreatedAt, zone)
	}
	for _, ss := range sessions {
		id := ss.TenantID + "\x00" + ss.UserID
		if ss.EndReason == "" {
			live[id]++
		}
		if day := startDay(ss.InitiatedAt); day >= first {
			if starts[id] == nil {
				starts[id] = map[string]int{}
			}
			starts[id][day]++
			if clientStarts[id] == nil {
				clientStarts[id] = map[string]int{}
			}
			for _, c := range ss.ClientIDs {
				clientStarts[id][clientStartKey(day, c)]++
			}
		}
	}
	for _, u := range users {
		if u.Roles == nil {
			u.Roles = []string{}
		}
		id := u.TenantID + "\x00" + u.ID
		// Past its bound the client counters start empty, as a login's would (restartClientCounts).
		cs, from := clientStarts[id], int64(0)
		if len(cs) > s.maxClientStarts() {
			cs, from = nil, s.now().UnixMilli()
		}
		if err := put(userItem{PK: userPK(u.TenantID, u.ID), SK: userSK(), Type: "user", Tenant: u.TenantID, ID: u.ID,
			Name: u.Name, UType: u.Type, Roles: u.Roles, Created: u.CreatedAt.UnixMilli(), Updated: u.UpdatedAt.UnixMilli(),
			Live: live[id], Starts: starts[id], ClientStarts: cs, ClientsFrom: from,
			Indexed: indexedFromStart, ExpIndexed: indexedFromStart}); err != nil {
			return fail("import", err)
		}
	}
	for _, ss := range sessions {
		if u, ok := byUser[ss.TenantID+"\x00"+ss.UserID]; ok && ss.UserName == "" && ss.UserType == "" {
			c := *ss
			c.UserName, c.UserType = u.Name, u.Type
			ss = &c
		}
		if err := put(s.sessionItemOf(ss, zone)); err != nil {
			return fail("import", err)
		}
	}
	if err := s.batchWrite(ctx, "import", reqs); err != nil {
		return err
	}
	for tenant, c := range created {
		if err := s.loadStats(ctx, tenant, nil, nil, c); err != nil {
			return err
		}
	}
	return nil
}
