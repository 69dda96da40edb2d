package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/pulse-sessions/pulse/shared/pulse"
)

type tenantItem struct {
	PK       string   `dynamodbav:"pk"`
	SK       string   `dynamodbav:"sk"`
	Type     string   `dynamodbav:"type"`
	ID       string   `dynamodbav:"tenant"`
	Name     string   `dynamodbav:"name"`
	TimeZone string   `dynamodbav:"tz,omitempty"`
	Grants   []string `dynamodbav:"grants,stringset,omitempty"` // "role#permission": '#' is in neither
	Created  int64    `dynamodbav:"created"`
}

func (it *tenantItem) tenant() *pulse.Tenant {
	t := &pulse.Tenant{ID: it.ID, Name: it.Name, TimeZone: it.TimeZone, CreatedAt: time.UnixMilli(it.Created)}
	for _, g := range it.Grants {
		if role, perm, ok := strings.Cut(g, "#"); ok {
			t.Grants = append(t.Grants, pulse.Grant{Role: role, Permission: pulse.Permission(perm)})
		}
	}
	return t
}

// apiKeyItem is the credential itself, keyed by the SHA-256 of the secret.
type apiKeyItem struct {
	PK      string   `dynamodbav:"pk"`
	SK      string   `dynamodbav:"sk"`
	Type    string   `dynamodbav:"type"`
	Hash    string   `dynamodbav:"hash"`
	KeyID   string   `dynamodbav:"key_id"`
	Tenant  string   `dynamodbav:"tenant"`
	Name    string   `dynamodbav:"name"`
	Scopes  []string `dynamodbav:"scopes"`
	Created int64    `dynamodbav:"created"`
	Revoked int64    `dynamodbav:"revoked,omitempty"`
}

// CreateTenant stores a new tenant; ECONFLICT when the ID is taken.
func (s *Store) CreateTenant(ctx context.Context, t pulse.Tenant) (*pulse.Tenant, error) {
	const op = "create tenant"
	if err := pulse.ValidID(t.ID); err != nil {
		return nil, pulse.Invalid(op, map[string][]string{"id": {err.Error()}})
	}
	if t.TimeZone != "" {
		if _, err := time.LoadLocation(t.TimeZone); err != nil {
			return nil, pulse.Invalid(op, map[string][]string{"time_zone": {"unknown time zone " + strconv.Quote(t.TimeZone)}})
		}
	}
	t.CreatedAt = s.now().Truncate(time.Millisecond)
	item, err := attributevalue.MarshalMap(tenantItem{PK: tenantPK(t.ID), SK: tenantSK(), Type: "tenant",
		ID: t.ID, Name: t.Name, TimeZone: t.TimeZone, Created: t.CreatedAt.UnixMilli()})
	if err != nil {
		return nil, fail(op, err)
	}
	reg, err := attributevalue.MarshalMap(map[string]string{attrPK: registryPK(), attrSK: registrySK(t.ID), "type": "registry"})
	if err != nil {
		return nil, fail(op, err)
	}
	// The registry lists every tenant for the scheduled rollup of closed days.
	err = s.transact(ctx, op,
		types.TransactWriteItem{Put: &types.Put{Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		types.TransactWriteItem{Put: &types.Put{Item: reg}})
	if code, _ := cancelledBy(err, 0); code == "ConditionalCheckFailed" {
		return nil, pulse.Conflict(op, pulse.EntityTenant, t.ID, pulse.ReasonExists)
	} else if err != nil {
		return nil, fail(op, err)
	}
	return &t, nil
}

// GetTenant returns a tenant; ENOTFOUND when there is none.
func (s *Store) GetTenant(ctx context.Context, id string) (*pulse.Tenant, error) {
	const op = "get tenant"
	var it tenantItem
	if found, err := s.get(ctx, op, tenantPK(id), tenantSK(), false, &it); err != nil {
		return nil, err
	} else if !found {
		return nil, pulse.NotFound(op, pulse.EntityTenant, id)
	}
	return it.tenant(), nil
}

// Grant gives perm to every user of tenant with role. Granting twice changes nothing.
func (s *Store) Grant(ctx context.Context, tenant, role string, perm pulse.Permission) error {
	const op = "grant"
	if err := pulse.ValidRole(role); err != nil {
		return pulse.Invalid(op, map[string][]string{"role": {err.Error()}})
	}
	if _, known := pulse.ParsePermission(string(perm)); !known {
		return pulse.Invalid(op, map[string][]string{"permission": {"unknown permission " + strconv.Quote(string(perm))}})
	}
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name("grants"), expression.Value(&types.AttributeValueMemberSS{Value: []string{role + "#" + string(perm)}}))).
		WithCondition(expression.AttributeExists(expression.Name(attrPK))).Build()
	if err != nil {
		return fail(op, err)
	}
	_, err = s.updateItem(ctx, op, &dynamodb.UpdateItemInput{Key: key(tenantPK(tenant), tenantSK()),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if failed, _ := conditionFailed(err); failed {
		return pulse.NotFound(op, pulse.EntityTenant, tenant)
	}
	return err
}

// apiKeyPrefix starts every API key, so that secret scanners and people can tell one.
const apiKeyPrefix = "pulse_"

// hashSecret returns the hex SHA-256 of a credential: what is stored instead of the secret.
// Secrets are 256 random bits, so a fast hash is enough (nothing to brute-force).
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey issues a key for tenant with the given scopes. The secret is returned once and
// only its hash is stored.
func (s *Store) CreateAPIKey(ctx context.Context, tenant, name string, scopes []pulse.Scope) (string, *pulse.APIKey, error) {
	const op = "create API key"
	if len(scopes) == 0 {
		return "", nil, pulse.Invalid(op, map[string][]string{"scopes": {"an API key needs at least one scope"}})
	}
	secret := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(s.ids.NewSecret(32))
	hash := hashSecret(secret)
	k := &pulse.APIKey{ID: strings.ToLower(s.ids.NewID()), TenantID: tenant, Name: name, Scopes: scopes, CreatedAt: s.now().Truncate(time.Millisecond)}
	it := apiKeyItem{PK: apiKeyPK(hash), SK: apiKeySK(), Type: "apikey", Hash: hash, KeyID: k.ID, Tenant: tenant,
		Name: name, Created: k.CreatedAt.UnixMilli()}
	for _, sc := range scopes {
		it.Scopes = append(it.Scopes, string(sc))
	}
	cred, err := attributevalue.MarshalMap(it)
	if err != nil {
		return "", nil, fail(op, err)
	}
	ref := it // the tenant's reference: lists and revokes by key ID
	ref.PK, ref.SK = tenantPK(tenant), tenantKeySK(k.ID)
	refItem, err := attributevalue.MarshalMap(ref)
	if err != nil {
		return "", nil, fail(op, err)
	}
	err = s.transact(ctx, op,
		types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{Key: key(tenantPK(tenant), tenantSK()), ConditionExpression: aws.String("attribute_exists(pk)")}},
		types.TransactWriteItem{Put: &types.Put{Item: cred, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		types.TransactWriteItem{Put: &types.Put{Item: refItem, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
	)
	if code, _ := cancelledBy(err, 0); code == "ConditionalCheckFailed" {
		return "", nil, pulse.NotFound(op, pulse.EntityTenant, tenant)
	} else if err != nil {
		return "", nil, fail(op, err)
	}
	return secret, k, nil
}

// Authenticate returns the valid API key whose secret is given; EUNAUTHORIZED for a missing,
// unknown or revoked one. One strongly consistent GetItem on the hash of the secret, so that a
// revocation takes effect at once.
func (s *Store) Authenticate(ctx context.Context, secret string) (*pulse.APIKey, error) {
	const op = "authenticate"
	unauthorized := pulse.Unauthorized(op, pulse.EntityAPIKey)
	if !strings.HasPrefix(secret, apiKeyPrefix) || len(secret) > 128 {
		return nil, unauthorized
	}
	hash := hashSecret(secret)
	var it apiKeyItem
	if found, err := s.get(ctx, op, apiKeyPK(hash), apiKeySK(), true, &it); err != nil {
		return nil, err
	} else if !found {
		return nil, unauthorized
	}
	// The lookup already matched the hash; comparing again in constant time keeps the check
	// itself free of timing differences whatever the storage layer does.
	if subtle.ConstantTimeCompare([]byte(it.Hash), []byte(hash)) != 1 || it.Revoked != 0 {
		return nil, unauthorized
	}
	return it.key(), nil
}

func (it *apiKeyItem) key() *pulse.APIKey {
	k := &pulse.APIKey{ID: it.KeyID, TenantID: it.Tenant, Name: it.Name, CreatedAt: time.UnixMilli(it.Created)}
	for _, sc := range it.Scopes {
		if scope, ok := pulse.ParseScope(sc); ok {
			k.Scopes = append(k.Scopes, scope)
		}
	}
	if it.Revoked != 0 {
		k.RevokedAt = time.UnixMilli(it.Revoked)
	}
	return k
}

// ListAPIKeys returns a tenant's keys, revoked ones included, without their secrets.
func (s *Store) ListAPIKeys(ctx context.Context, tenant string) ([]*pulse.APIKey, error) {
	const op = "list API keys"
	kc := expression.Key(attrPK).Equal(expression.Value(tenantPK(tenant))).
		And(expression.Key(attrSK).BeginsWith(tenantKeyPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fail(op, err)
	}
	var keys []*pulse.APIKey
	err = s.query(ctx, op, &dynamodb.QueryInput{KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}, func(page []map[string]types.AttributeValue) (bool, error) {
		var items []apiKeyItem
		if err := attributevalue.UnmarshalListOfMaps(page, &items); err != nil {
			return false, err
		}
		for i := range items {
			keys = append(keys, items[i].key())
		}
		return true, nil
	})
	return keys, err
}

// RevokeAPIKey revokes a tenant's key by ID; ENOTFOUND when the tenant has no such key.
// Revoking twice is not an error.
func (s *Store) RevokeAPIKey(ctx context.Context, tenant, keyID string) error {
	const op = "revoke API key"
	var ref apiKeyItem
	if found, err := s.get(ctx, op, tenantPK(tenant), tenantKeySK(keyID), true, &ref); err != nil {
		return err
	} else if !found {
		return pulse.NotFound(op, pulse.EntityAPIKey, keyID)
	}
	if ref.Revoked != 0 {
		return nil
	}
	upd, err := expression.NewBuilder().WithUpdate(expression.Set(expression.Name("revoked"), expression.Value(s.now().UnixMilli()))).
		WithCondition(expression.AttributeExists(expression.Name(attrPK))).Build()
	if err != nil {
		return fail(op, err)
	}
	update := func(pk, sk string) types.TransactWriteItem {
		return types.TransactWriteItem{Update: &types.Update{Key: key(pk, sk),
			UpdateExpression: upd.Update(), ConditionExpression: upd.Condition(),
			ExpressionAttributeNames: upd.Names(), ExpressionAttributeValues: upd.Values()}}
	}
	if err := s.transact(ctx, op, update(apiKeyPK(ref.Hash), apiKeySK()), update(tenantPK(tenant), tenantKeySK(keyID))); err != nil {
		return fail(op, err)
	}
	return nil
}
