package store

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// everyField is a sessionItem with every field set to a value of its own (no zero value, no two
// alike), so that a field the hand decoder misses shows.
func everyField(t *testing.T) sessionItem {
	t.Helper()
	var it sessionItem
	v := reflect.ValueOf(&it).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("v" + strconv.Itoa(i))
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(1_700_000_000_000 + i))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"a" + strconv.Itoa(i), "b"}))
		default:
			t.Fatalf("sessionItem.%s is a %s: teach everyField and the decoder its kind", v.Type().Field(i).Name, f.Kind())
		}
	}
	return it
}

// The hand decoder reads every field of sessionItem as attributevalue's reflection does.
func TestSessionItemDecoder(t *testing.T) {
	want := everyField(t)
	item, err := attributevalue.MarshalMap(want)
	if err != nil {
		t.Fatal(err)
	}
	var fast sessionItem
	if !fast.decode(item) {
		t.Fatal("the fast path refused an item attributevalue wrote")
	}
	if !reflect.DeepEqual(fast, want) {
		t.Errorf("decoded by hand\n got %+v\nwant %+v", fast, want)
	}
	var got sessionItem
	if err := attributevalue.UnmarshalMap(item, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("UnmarshalMap: %v\n got %+v\nwant %+v", err, got, want)
	}
	// A list of strings where the item has a string set, as a stream image or an old item may
	// hold: attributevalue decodes it, so the fast path hands it over.
	odd := map[string]types.AttributeValue{attrPK: item[attrPK], "clients": &types.AttributeValueMemberL{Value: []types.AttributeValue{
		&types.AttributeValueMemberS{Value: "web"}}}}
	var plain, viaHand sessionItem
	if err := attributevalue.Unmarshal(&types.AttributeValueMemberM{Value: odd}, (*plainSessionItem)(&plain)); err != nil {
		t.Fatal(err)
	}
	if err := attributevalue.UnmarshalMap(odd, &viaHand); err != nil || !reflect.DeepEqual(viaHand, plain) || len(plain.Clients) != 1 {
		t.Errorf("a list for a set: %v, got %+v, want %+v", err, viaHand, plain)
	}
	// What neither can read is an error from both, not a zero value.
	bad := map[string]types.AttributeValue{"last": &types.AttributeValueMemberN{Value: "1.5"}}
	if err := attributevalue.UnmarshalMap(bad, &viaHand); err == nil {
		t.Error("a fractional last activity decoded without an error")
	}
}
