package store

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// Every DynamoDB key of Pulse is built here. IDs never contain '#' (pulse.ValidID), so a
// caller-chosen ID cannot reach another key.

// Attribute and index names, as template.yaml declares them.
const (
	attrPK       = "pk"
	attrSK       = "sk"
	attrDayPK    = "day_pk"
	attrDaySK    = "day_sk"
	attrActivePK = "apk"
	attrActiveSK = "ask"
	attrLiveKey  = "live_key"
	attrInitKey  = "init_key"
	attrInit     = "init" // a session's start (Unix ms)
	attrLast     = "last" // a session's last activity (Unix ms)
	attrExp      = "exp"  // a session's expiry (Unix ms)
	attrSID      = "sid"  // a session's ID, on session items only: the ByID index's range key
	attrEndedKey = "ended_key"
	attrEndLast  = "ended_last" // an ended session's last activity (Unix ms): the EndedLast index's range key
	attrEndExp   = "ended_exp"  // an ended session's expiry (Unix ms): the EndedExp index's range key
	attrExpPK    = "exp_pk"
	attrExpSK    = "exp_sk"
	attrTTL      = "ttl"
	attrStarts   = "starts"
	attrCStarts  = "cstarts" // a user's sessions by start day and client (userItem.ClientStarts)
	attrLiveVer  = "lver"    // the version of a user's login counter (userItem.LiveVer)
	attrIndexed  = "ixs"     // since when EndedLast and cstarts hold all of a user's (userItem.Indexed)
	attrExpIdx   = "exs"     // since when EndedExp holds all of a user's ends (userItem.ExpIndexed)
	attrCFrom    = "cfrom"   // since when cstarts counts every session, having started again (userItem.ClientsFrom)

	indexDays    = "Days"
	indexActive  = "Active"
	indexExpiry  = "Expiry"
	indexLive    = "Live"      // local: a user's live sessions by start
	indexStarted = "Started"   // local: all of a user's sessions by start
	indexEnded   = "Ended"     // local: a user's ended sessions by start
	indexEndLast = "EndedLast" // global: a user's ended sessions by last activity
	indexEndExp  = "EndedExp"  // global: a user's ended sessions by expiry
	indexByID    = "ByID"      // global: all of a user's sessions by ID
	indexLiveAt  = "LiveTimes" // global: a user's live sessions with their last activity and expiry
)

// activeBucket is the time bucket of the active index: a session moves to a new index
// partition at most once per bucket, so heartbeats within a bucket never write the index.
const activeBucket = 5 * time.Minute

// ActiveBucket is activeBucket for configuration checks: a session counts as active for up to
// one bucket past the active window (ActiveSince), so an idle timeout must outlast both.
const ActiveBucket = activeBucket

// tenantPK: a tenant's settings and its API-key list (GetItem on the tenant; Query for keys).
func tenantPK(tenant string) string { return "T#" + tenant }

// tenantSK: the tenant's own item.
func tenantSK() string { return "TENANT" }

// tenantKeySK: a tenant's reference to one of its API keys (list and revoke by key ID).
func tenantKeySK(keyID string) string { return "AK#" + keyID }

// tenantKeyPrefix: all of a tenant's key references.
const tenantKeyPrefix = "AK#"

// apiKeyPK: API key → principal, one GetItem on the SHA-256 of the secret.
func apiKeyPK(hash string) string { return "AK#" + hash }

// apiKeySK: the single item of an API-key partition.
func apiKeySK() string { return "AK" }

// userPK: everything one user owns lives in one partition — profile, sessions, per-day
// activity, token references — so that a user's sessions are one Query and erasing a user is
// one Query plus deletes, whatever the size of the tenant.
func userPK(tenant, user string) string { return "T#" + tenant + "#U#" + user }

// userSK: the user's profile.
func userSK() string { return "USER" }

// sessionSK: one session of the user (get, heartbeat, revoke; Query on sessionPrefix lists).
func sessionSK(id string) string { return sessionPrefix + id }

const sessionPrefix = "S#"

// daySK: the user was active on day (YYYY-MM-DD in the tenant's time zone).
func daySK(day string) string { return "D#" + day }

// dayIndexPK: users active per day, partitioned by tenant and month (YYYY-MM): a range of days
// is one Query per month touched, and costs what its user-days weigh.
func dayIndexPK(tenant, month string) string { return "T#" + tenant + "#M#" + month }

// dayIndexSK: sorts by day, then user; the user ID is read back from it.
func dayIndexSK(day, user string) string { return day + "#" + user }

// activeIndexPK: live sessions of a tenant by the bucket of their last activity and a write
// shard. "Active now" reads the few buckets that overlap the active window; ended sessions
// move to the tenant's ends (endedIndexPK), idle ones stay behind in old buckets that are never
// read.
func activeIndexPK(tenant string, lastActivity time.Time, shard int) string {
	b := lastActivity.Truncate(activeBucket).Unix()
	return fmt.Sprintf("T#%s#A#%d#%d", tenant, b, shard)
}

// activeIndexSK: the session's start in Unix milliseconds (a number: 8 bytes in the index
// entry), stable for the session's life, so it never forces an index write. Within a bucket,
// newer sessions come first; a session that started inside the active window is active for
// sure, whichever bucket it is in.
func activeIndexSK(initiated time.Time) int64 { return initiated.UnixMilli() }

// endedBucket is the time bucket of ended sessions' entries in the Active index: a day (UTC),
// so that a search of a month's ends queries tens of partitions, not thousands.
const endedBucket = 24 * time.Hour

// endedShards spreads a tenant's ends of one day over this many partitions (a revoke-all or the
// cleanup ends thousands at once, and an index partition takes about 1,000 writes a second).
// Fixed: changing it would strand entries in other shards (their session's TTL removes them).
const endedShards = 4

// endedIndexPK: a tenant's ended sessions by the UTC day of their end, and a write shard. A
// session's Active-index entry moves here when its end is recorded (endUpdate), so the search of
// ended sessions reads the index the active list reads: no index is added, and an end costs one
// index write more than leaving the index (a delete and a put instead of a delete). "E" never
// meets "A" (activeIndexPK), and IDs hold no '#'.
func endedIndexPK(tenant string, ended time.Time, shard int) string {
	return fmt.Sprintf("T#%s#E#%d#%d", tenant, ended.Truncate(endedBucket).Unix(), shard)
}

// endedIndexSK: the end in Unix milliseconds, so that a time range within a day is a key
// condition.
func endedIndexSK(ended time.Time) int64 { return ended.UnixMilli() }

// startKey: the range key of the Live, Started and Ended local indexes, which page a user's
// sessions by key: their start in milliseconds (fixed width, so that strings sort as numbers),
// ties broken by session ID.
func startKey(initiated time.Time, session string) string {
	return fmt.Sprintf("%013d#%s", initiated.UnixMilli(), session)
}

// startDay is the UTC day a session started on: the unit of the user's start counters
// (userItem.Starts), by which a list page is found without reading the sessions before it.
func startDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// clientStartKey is the key of userItem.ClientStarts that counts the sessions started on day
// (YYYY-MM-DD) that have had client.
func clientStartKey(day, client string) string { return day + "#" + client }

// clientStartPath is the document path of a clientStartKey in the user item. Client IDs may
// hold dots (pulse.ValidID), which expression.Name would take for path separators.
func clientStartPath(day, client string) expression.NameBuilder {
	return expression.Name(attrCStarts).AppendName(expression.NameNoDotSplit(clientStartKey(day, client)))
}

// dayStartKey is the smallest startKey of a UTC day (YYYY-MM-DD): a bound for key conditions
// on the Live, Started and Ended indexes.
func dayStartKey(day string) string {
	t, _ := time.Parse(time.DateOnly, day)
	return fmt.Sprintf("%013d", t.UnixMilli())
}

// nextDay is the UTC day after day (YYYY-MM-DD).
func nextDay(day string) string {
	t, _ := time.Parse(time.DateOnly, day)
	return t.AddDate(0, 0, 1).Format(time.DateOnly)
}

// msOfStartKey is the start, in Unix milliseconds, of a startKey.
func msOfStartKey(k string) int64 {
	ms, _ := strconv.ParseInt(k[:min(13, len(k))], 10, 64)
	return ms
}

// shardOf spreads sessions over the active index's write shards.
func shardOf(session string, shards int) int {
	if shards <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(session))
	return int(h.Sum32() % uint32(shards))
}

// tokenPK: personal access token → user, one GetItem on the SHA-256 of the token.
func tokenPK(hash string) string { return "PAT#" + hash }

// tokenSK: the single item of a token partition.
func tokenSK() string { return "PAT" }

// tokenRefSK: a user's reference to one of their tokens, by the token's name (revoke by name;
// found by DeleteUser).
func tokenRefSK(name string) string { return "K#" + name }

// expiryBucket is the time bucket of the expiry index. With an idle timeout that is a multiple
// of it (the default 30 minutes), a session's expiry bucket changes exactly when its active
// bucket does, so the two indexes move together, once per bucket.
const expiryBucket = activeBucket

// expiryShards spreads the expiry index's writes, which come from every tenant, over this
// many partitions per bucket. Fixed: changing it would strand sessions in other shards (their
// TTL would still remove them).
const expiryShards = 4

// expiryIndexPK: live sessions of all tenants by the bucket their expiry falls in, and a write
// shard. Cleanup reads the buckets that have passed since its last run: its cost grows with
// the sessions that expired, never with the live ones, whose buckets lie ahead.
func expiryIndexPK(expires time.Time, shard int) string {
	return fmt.Sprintf("X#%d#%d", expires.Truncate(expiryBucket).Unix(), shard)
}

// expiryIndexSK: stable for the session's life.
func expiryIndexSK(tenant, user, session string) string { return tenant + "#" + user + "#" + session }

// cleanupPK, cleanupSK: the cleanup's cursor, the first expiry bucket not yet fully processed.
func cleanupPK() string { return "CLEANUP" }
func cleanupSK() string { return "CURSOR" }

// rollupPK: a tenant's closed days, one rollup per day of the users active that day, for one
// month (YYYY-MM): a range of days is one Query per month, and costs the rollups' compressed
// bytes instead of an index entry per user and day.
func rollupPK(tenant, month string) string { return "T#" + tenant + "#R#" + month }

// rollupSK: one chunk of one day's rollup (a day of 100,000 users takes several).
func rollupSK(day string, chunk int) string { return fmt.Sprintf("%s#%03d", day, chunk) }

// rollupDictSK: one chunk of a month's dictionary of users, those first seen on day (a closed
// day of the month). Every day's rollup of the month is a bitmap over the dictionary, so a user
// active on 30 days is stored once, not 30 times. Sorts after every day's rollupSK.
func rollupDictSK(day string, part int) string {
	return fmt.Sprintf("%s%s#%03d", rollupDictPrefix, day, part)
}

const rollupDictPrefix = "U#"

// registryPK, registrySK: every tenant, one item each, for the scheduled function that rolls up
// closed days tenant by tenant.
func registryPK() string              { return "TENANTS" }
func registrySK(tenant string) string { return tenant }

// rollupCursorSK: the scheduled rollup's progress (the next day to close, the last tenant done).
func rollupCursorSK() string { return "ROLLUP" }

// statShards spreads a tenant's activity counters over this many items per day: every user's
// first activity of a day or an hour adds to them in a transaction, and transactions on one
// item at once conflict. Reads query every shard. Fixed: counts live in their shard.
const statShards = 4

// statPK: one shard of a tenant's activity counters (DAU by gap, new users, hours), a day
// each; statSK: the day (YYYY-MM-DD in the tenant's time zone), so a range of days is one Query
// per shard.
func statPK(tenant string, shard int) string { return fmt.Sprintf("T#%s#ST#%d", tenant, shard) }
func statSK(day string) string               { return day }

// snapshotPK, snapshotSK: one item per tenant whose active list was read: until when the
// scheduled runs take snapshots of it, and which is current (snapshot.go). One partition, so
// that a run finds the tenants wanted with one Query.
func snapshotPK() string              { return "ASNAP" }
func snapshotSK(tenant string) string { return tenant }

// snapshotChunkPK: the chunks of the snapshot of a tenant's active list taken at built (Unix
// ms), each snapshot its own partition, so that a new one never overwrites one a page reads;
// snapshotChunkSK: a chunk's place in the list. "AS" never meets "U" (userPK).
func snapshotChunkPK(tenant string, built int64) string {
	return "T#" + tenant + "#AS#" + strconv.FormatInt(built, 10)
}
func snapshotChunkSK(i int) string { return fmt.Sprintf("%06d", i) }

// erasedPK, erasedSK: users whose erasure began, for the scheduled sweep that finishes it.
func erasedPK() string                    { return "ERASED" }
func erasedSK(tenant, user string) string { return tenant + "#" + user }
