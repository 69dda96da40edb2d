package streams

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// DynamoDBLocal is the Streams client option that reads DynamoDB Local's stream as DynamoDB
// Streams would send it. DynamoDB Local writes an empty map attribute untyped, `"places":{}`,
// where DynamoDB Streams writes `"places":{"M":{}}`; the SDK decodes the untyped form silently
// into a wrong value (the attribute before it, in one case seen: a user's ID in place of its
// empty map of places), which is not what any Lambda function receives in AWS. The option
// types such values in the raw answer, before the SDK decodes it.
func DynamoDBLocal(o *dynamodbstreams.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		// After the operation's deserializer in the stack: it runs on the raw answer first.
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("pulse-ddblocal-empty-maps",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if err != nil {
					return out, md, err
				}
				resp, ok := out.RawResponse.(*smithyhttp.Response)
				if !ok || resp.Body == nil {
					return out, md, err
				}
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr != nil {
					return out, md, fmt.Errorf("streams: reading DynamoDB Local's answer: %w", rerr)
				}
				resp.Body = io.NopCloser(bytes.NewReader(TypeEmptyMaps(body)))
				return out, md, nil
			}), middleware.After)
	})
}

// TypeEmptyMaps rewrites DynamoDB Local's untyped empty map attribute values as typed ones in
// a GetRecords answer: in every record's Keys, NewImage and OldImage, at any depth of maps and
// lists. Any other answer is returned as it is.
func TypeEmptyMaps(body []byte) []byte {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return body
	}
	records, ok := doc["Records"].([]any)
	if !ok {
		return body
	}
	for _, r := range records {
		rec, _ := r.(map[string]any)
		d, _ := rec["dynamodb"].(map[string]any)
		for _, img := range []string{"Keys", "NewImage", "OldImage"} {
			if m, ok := d[img].(map[string]any); ok {
				typeItem(m)
			}
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// typeItem types the empty attribute values of an item (name → value).
func typeItem(item map[string]any) {
	for name, v := range item {
		item[name] = typeValue(v)
	}
}

// typeValue returns an attribute value with its untyped empty maps typed.
func typeValue(v any) any {
	av, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if len(av) == 0 {
		return map[string]any{"M": map[string]any{}}
	}
	if m, ok := av["M"].(map[string]any); ok {
		typeItem(m)
	}
	if l, ok := av["L"].([]any); ok {
		for i := range l {
			l[i] = typeValue(l[i])
		}
	}
	return av
}
