package template

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CreateTableInput returns the CreateTable request for the AWS::DynamoDB::Table resource id,
// named name. It carries the key schema, indexes and stream only: TTL and backups are settings
// of the deployed table that DynamoDB Local accepts but does not act on.
func (t *Template) CreateTableInput(id, name string) (*dynamodb.CreateTableInput, error) {
	r, ok := t.Resources[id]
	if !ok || r.Type != "AWS::DynamoDB::Table" {
		return nil, fmt.Errorf("template: no table %s", id)
	}
	p := r.Properties
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest}
	for _, a := range list(p["AttributeDefinitions"]) {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(str(a, "AttributeName")),
			AttributeType: types.ScalarAttributeType(str(a, "AttributeType")),
		})
	}
	in.KeySchema = keySchema(p["KeySchema"])
	for _, g := range list(p["GlobalSecondaryIndexes"]) {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(str(g, "IndexName")), KeySchema: keySchema(g["KeySchema"]), Projection: projection(g)})
	}
	for _, l := range list(p["LocalSecondaryIndexes"]) {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, types.LocalSecondaryIndex{
			IndexName: aws.String(str(l, "IndexName")), KeySchema: keySchema(l["KeySchema"]), Projection: projection(l)})
	}
	if spec, ok := p["StreamSpecification"].(map[string]any); ok {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewType(str(spec, "StreamViewType"))}
	}
	if len(in.KeySchema) == 0 || len(in.AttributeDefinitions) == 0 {
		return nil, fmt.Errorf("template: table %s has no key schema", id)
	}
	return in, nil
}

// TTLAttribute returns the table's TTL attribute name, "" when TTL is off.
func (t *Template) TTLAttribute(id string) string {
	spec, _ := t.Resources[id].Properties["TimeToLiveSpecification"].(map[string]any)
	if spec["Enabled"] != true {
		return ""
	}
	return str(spec, "AttributeName")
}

// projection reads an index's Projection.
func projection(index map[string]any) *types.Projection {
	proj, _ := index["Projection"].(map[string]any)
	out := &types.Projection{ProjectionType: types.ProjectionType(str(proj, "ProjectionType"))}
	nonKey, _ := proj["NonKeyAttributes"].([]any)
	for _, a := range nonKey {
		out.NonKeyAttributes = append(out.NonKeyAttributes, fmt.Sprint(a))
	}
	return out
}

func keySchema(v any) []types.KeySchemaElement {
	var ks []types.KeySchemaElement
	for _, k := range list(v) {
		ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(str(k, "AttributeName")), KeyType: types.KeyType(str(k, "KeyType"))})
	}
	return ks
}

func list(v any) []map[string]any {
	var out []map[string]any
	s, _ := v.([]any)
	for _, e := range s {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }
