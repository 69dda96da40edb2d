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
// session enters the active index by its last activity. zone decides each session's day.
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
	for _, u := range users {
		if u.Roles == nil {
			u.Roles = []string{}
		}
		if err := put(userItem{PK: userPK(u.TenantID, u.ID), SK: userSK(), Type: "user", Tenant: u.TenantID, ID: u.ID,
			Name: u.Name, UType: u.Type, Roles: u.Roles, Created: u.CreatedAt.UnixMilli(), Updated: u.UpdatedAt.UnixMilli()}); err != nil {
			return fail("import", err)
		}
	}
	for _, ss := range sessions {
		it := sessionItem{
			PK: userPK(ss.TenantID, ss.UserID), SK: sessionSK(ss.ID), Type: "session",
			Tenant: ss.TenantID, User: ss.UserID, ID: ss.ID, Key: ss.Key, Clients: ss.ClientIDs,
			Initiated: ss.InitiatedAt.UnixMilli(), Last: ss.LastActivity.UnixMilli(), Expires: ss.ExpiresAt.UnixMilli(),
			HardExpires: ss.HardExpires.UnixMilli(), Day: dayOf(ss.LastActivity, zone), Status: pulse.StatusActive,
			IP: ss.IPAddress, UA: ss.Device.UserAgent, Browser: ss.Device.Browser, Version: ss.Device.Version,
			Major: ss.Device.MajorVersion, OS: ss.Device.OS, CountryCode: ss.Location.CountryCode, Country: ss.Location.Country,
			City: ss.Location.City, Continent: ss.Location.Continent, Lat: ss.Location.Latitude, Lon: ss.Location.Longitude,
			TTL: ss.HardExpires.Add(s.policy.Retention).Unix(),
		}
		if ss.EndReason != "" {
			it.Status, it.Reason, it.Ended = pulse.StatusEnded, ss.EndReason, ss.EndedAt.UnixMilli()
			it.TTL = ss.EndedAt.Add(s.policy.Retention).Unix()
		} else {
			it.ActivePK = activeIndexPK(ss.TenantID, ss.LastActivity, shardOf(ss.ID, s.shards))
			it.ActiveSK = activeIndexSK(ss.UserID, ss.ID)
			it.ExpPK = expiryIndexPK(ss.ExpiresAt, shardOf(ss.ID, expiryShards))
			it.ExpSK = expiryIndexSK(ss.TenantID, ss.UserID, ss.ID)
		}
		if err := put(it); err != nil {
			return fail("import", err)
		}
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fail("import", err)
	}
	return nil
}
