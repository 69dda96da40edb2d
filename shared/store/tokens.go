package store

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

// tokenItem is a personal access token: the credential (keyed by its hash) and, with the same
// attributes, the user's reference to it (keyed by its name, in the user's partition, where
// DeleteUser finds it through token_hash).
type tokenItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	Type    string `dynamodbav:"type"`
	Hash    string `dynamodbav:"token_hash"`
	Tenant  string `dynamodbav:"tenant"`
	User    string `dynamodbav:"uid"`
	Name    string `dynamodbav:"name"`
	Created int64  `dynamodbav:"created"`
	Expires int64  `dynamodbav:"expires,omitempty"`
	TTL     int64  `dynamodbav:"ttl,omitempty"`
}

// CreateToken issues a personal access token named name to a user and returns its secret, shown
// once. ENOTFOUND for an unknown user; ECONFLICT when the user has a token of that name.
// ttl 0 means it never expires.
func (s *Store) CreateToken(ctx context.Context, tenant, user, name string, ttl time.Duration) (string, *pulse.AccessToken, error) {
	const op = "create token"
	now := s.now().Truncate(time.Millisecond)
	secret := base64.RawURLEncoding.EncodeToString(s.ids.NewSecret(32))
	hash := hashSecret(secret)
	it := tokenItem{PK: tokenPK(hash), SK: tokenSK(), Type: "token", Hash: hash, Tenant: tenant, User: user, Name: name, Created: now.UnixMilli()}
	tok := &pulse.AccessToken{TenantID: tenant, UserID: user, Name: name, CreatedAt: now}
	if ttl > 0 {
		tok.ExpiresAt = now.Add(ttl)
		it.Expires = tok.ExpiresAt.UnixMilli()
		it.TTL = tok.ExpiresAt.Add(24 * time.Hour).Unix() // DynamoDB removes it some time after
	}
	cred, err := attributevalue.MarshalMap(it)
	if err != nil {
		return "", nil, fail(op, err)
	}
	ref := it
	ref.PK, ref.SK = userPK(tenant, user), tokenRefSK(name)
	refItem, err := attributevalue.MarshalMap(ref)
	if err != nil {
		return "", nil, fail(op, err)
	}
	err = s.transact(ctx, op,
		types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{Key: key(userPK(tenant, user), userSK()), ConditionExpression: aws.String("attribute_exists(pk) AND attribute_not_exists(erased)")}},
		types.TransactWriteItem{Put: &types.Put{Item: refItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		types.TransactWriteItem{Put: &types.Put{Item: cred, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	)
	if code, _ := cancelledBy(err, 0); code == "ConditionalCheckFailed" {
		return "", nil, pulse.NotFound(op, pulse.EntityUser, user)
	} else if code, _ := cancelledBy(err, 1); code == "ConditionalCheckFailed" {
		return "", nil, &pulse.Error{Code: pulse.ECONFLICT, Op: op, Entity: pulse.EntityToken, ID: name, Owner: user, Reason: pulse.ReasonExists}
	} else if err != nil {
		return "", nil, fail(op, err)
	}
	return secret, tok, nil
}

// GetToken returns a user's personal access token named name, without its secret (which is
// stored only as a hash): ENOTFOUND when the user has no such token, when it has expired, and
// when the user is being erased. One strongly consistent BatchGetItem of the user's reference
// to the token and the user.
func (s *Store) GetToken(ctx context.Context, tenant, user, name string) (*pulse.AccessToken, error) {
	const op = "get token"
	item, err := s.getOfLiveUser(ctx, op, tenant, user, tokenRefSK(name))
	if err != nil || item == nil {
		return nil, orNotFound(err, op, pulse.EntityToken, name)
	}
	var ref tokenItem
	if err := attributevalue.UnmarshalMap(item, &ref); err != nil {
		return nil, fail(op, err)
	}
	// TTL removes an expired token some time after it expires: the read decides.
	if ref.Expires != 0 && ref.Expires <= s.now().UnixMilli() {
		return nil, pulse.NotFound(op, pulse.EntityToken, name)
	}
	tok := &pulse.AccessToken{TenantID: tenant, UserID: user, Name: ref.Name, CreatedAt: time.UnixMilli(ref.Created)}
	if ref.Expires != 0 {
		tok.ExpiresAt = time.UnixMilli(ref.Expires)
	}
	return tok, nil
}

// AuthenticateToken returns the token whose secret is given when it is valid for user, with
// the user: EUNAUTHORIZED for an unknown, expired or revoked token, for a token of another
// user, and for a user erased or being erased. The user's tombstone decides, not the token's
// credential: an erasure deletes the credentials a page at a time, and a token must stop
// working the moment the erasure begins. Two strongly consistent GetItems: the hash of the
// secret, then the user the credential names.
func (s *Store) AuthenticateToken(ctx context.Context, user, secret string) (*pulse.AccessToken, *pulse.User, error) {
	const op = "authenticate token"
	unauthorized := pulse.Unauthorized(op, pulse.EntityToken)
	if secret == "" || len(secret) > 128 {
		return nil, nil, unauthorized
	}
	hash := hashSecret(secret)
	var it tokenItem
	if found, err := s.get(ctx, op, tokenPK(hash), tokenSK(), true, &it); err != nil {
		return nil, nil, err
	} else if !found {
		return nil, nil, unauthorized
	}
	if subtle.ConstantTimeCompare([]byte(it.Hash), []byte(hash)) != 1 || it.User != user ||
		(it.Expires != 0 && !s.now().Before(time.UnixMilli(it.Expires))) {
		return nil, nil, unauthorized
	}
	u, err := s.GetUser(ctx, it.Tenant, it.User)
	if pulse.ErrorCode(err) == pulse.ENOTFOUND {
		return nil, nil, unauthorized
	} else if err != nil {
		return nil, nil, err
	}
	tok := &pulse.AccessToken{TenantID: it.Tenant, UserID: it.User, Name: it.Name, CreatedAt: time.UnixMilli(it.Created)}
	if it.Expires != 0 {
		tok.ExpiresAt = time.UnixMilli(it.Expires)
	}
	return tok, u, nil
}

// RevokeToken deletes a user's token by name; ENOTFOUND when the user has none by that name.
func (s *Store) RevokeToken(ctx context.Context, tenant, user, name string) error {
	const op = "revoke token"
	var ref tokenItem
	if found, err := s.get(ctx, op, userPK(tenant, user), tokenRefSK(name), true, &ref); err != nil {
		return err
	} else if !found {
		return pulse.NotFound(op, pulse.EntityToken, name)
	}
	return s.transact(ctx, op,
		types.TransactWriteItem{Delete: &types.Delete{Key: key(tokenPK(ref.Hash), tokenSK())}},
		types.TransactWriteItem{Delete: &types.Delete{Key: key(userPK(tenant, user), tokenRefSK(name))}},
	)
}
