package streams

import "testing"

func TestTypeEmptyMaps(t *testing.T) {
	for in, want := range map[string]string{
		`{"Records":[{"dynamodb":{"NewImage":{"places":{},"user":{"S":"u1"}}}}]}`:                                `{"Records":[{"dynamodb":{"NewImage":{"places":{"M":{}},"user":{"S":"u1"}}}}]}`,
		`{"Records":[{"dynamodb":{"OldImage":{"m":{"M":{}}}}}]}`:                                                 `{"Records":[{"dynamodb":{"OldImage":{"m":{"M":{}}}}}]}`,
		`{"Records":[{"dynamodb":{"NewImage":{"a":{"M":{"b":{},"c":{"L":[{},{"S":"x\":{}"}]}}}}}}]}`:             `{"Records":[{"dynamodb":{"NewImage":{"a":{"M":{"b":{"M":{}},"c":{"L":[{"M":{}},{"S":"x\":{}"}]}}}}}}]}`,
		`{"Records":[{"dynamodb":{"SequenceNumber":"000000000000000000022","SizeBytes":12345678901234567890}}]}`: `{"Records":[{"dynamodb":{"SequenceNumber":"000000000000000000022","SizeBytes":12345678901234567890}}]}`,
		`{"StreamDescription":{"x":{}}}`:                                                                         `{"StreamDescription":{"x":{}}}`,
	} {
		if got := string(TypeEmptyMaps([]byte(in))); got != want {
			t.Errorf("TypeEmptyMaps(%s) = %s, want %s", in, got, want)
		}
	}
}
