package store

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Session items are decoded by hand. Every read of sessions decodes them (a list page, an admin
// page of up to 2,000, a login at the cap), and attributevalue's reflection over the item's
// fields took about 4.7 µs an item: half a millisecond for the admin list's 100, most of Pulse's
// own time in it (BENCHMARKS.md, section 3); by the table below, about 2 µs. The reflection stays
// the reference: anything the fast path does not expect (an attribute of another type, a number
// that is not an integer) is decoded by it instead, and TestSessionItemDecoder holds the two to
// the same result for every field of sessionItem, so that a field added without its entry in
// sessionFields fails the test.

// plainSessionItem is sessionItem without its decoder: what attributevalue decodes by reflection.
type plainSessionItem sessionItem

// UnmarshalDynamoDBAttributeValue implements attributevalue.Unmarshaler: UnmarshalMap(item,
// &it) comes here.
func (it *sessionItem) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	if m, ok := av.(*types.AttributeValueMemberM); ok && it.decode(m.Value) {
		return nil
	}
	// Refused part-way, the item is decoded again whole: the fast path set only fields whose
	// attributes the item has, and the reflection sets each of them again.
	return attributevalue.Unmarshal(av, (*plainSessionItem)(it))
}

// sessionFields maps each attribute of a session item to its field in sessionItem.
var sessionFields = map[string]func(*sessionItem) any{
	attrPK: func(it *sessionItem) any { return &it.PK }, attrSK: func(it *sessionItem) any { return &it.SK },
	attrActivePK: func(it *sessionItem) any { return &it.ActivePK }, attrActiveSK: func(it *sessionItem) any { return &it.ActiveSK },
	attrLiveKey: func(it *sessionItem) any { return &it.LiveKey }, attrInitKey: func(it *sessionItem) any { return &it.InitKey },
	attrEndedKey: func(it *sessionItem) any { return &it.EndedKey }, attrEndLast: func(it *sessionItem) any { return &it.EndedLast },
	attrEndExp: func(it *sessionItem) any { return &it.EndedExp }, "uname": func(it *sessionItem) any { return &it.UserName },
	"utype": func(it *sessionItem) any { return &it.UserType }, attrExpPK: func(it *sessionItem) any { return &it.ExpPK },
	attrExpSK: func(it *sessionItem) any { return &it.ExpSK }, "type": func(it *sessionItem) any { return &it.Type },
	"tenant": func(it *sessionItem) any { return &it.Tenant }, "uid": func(it *sessionItem) any { return &it.User },
	attrSID: func(it *sessionItem) any { return &it.ID }, "skey": func(it *sessionItem) any { return &it.Key },
	"clients": func(it *sessionItem) any { return &it.Clients }, attrInit: func(it *sessionItem) any { return &it.Initiated },
	"last": func(it *sessionItem) any { return &it.Last }, "exp": func(it *sessionItem) any { return &it.Expires },
	"hexp": func(it *sessionItem) any { return &it.HardExpires }, "day": func(it *sessionItem) any { return &it.Day },
	"status": func(it *sessionItem) any { return &it.Status }, "ended": func(it *sessionItem) any { return &it.Ended },
	"reason": func(it *sessionItem) any { return &it.Reason }, "ip": func(it *sessionItem) any { return &it.IP },
	"ua": func(it *sessionItem) any { return &it.UA }, "browser": func(it *sessionItem) any { return &it.Browser },
	"bver": func(it *sessionItem) any { return &it.Version }, "bmajor": func(it *sessionItem) any { return &it.Major },
	"os": func(it *sessionItem) any { return &it.OS }, "cc": func(it *sessionItem) any { return &it.CountryCode },
	"country": func(it *sessionItem) any { return &it.Country }, "city": func(it *sessionItem) any { return &it.City },
	"continent": func(it *sessionItem) any { return &it.Continent }, "lat": func(it *sessionItem) any { return &it.Lat },
	"lon": func(it *sessionItem) any { return &it.Lon }, "fp": func(it *sessionItem) any { return &it.Fingerprint },
	attrTTL: func(it *sessionItem) any { return &it.TTL }, "newdev": func(it *sessionItem) any { return &it.NewDevice },
	"newloc": func(it *sessionItem) any { return &it.NewLocation },
}

// decode sets it from item's attributes; false when one is not of the type the fast path knows.
// Attributes a session item does not have are left alone, as attributevalue does.
func (it *sessionItem) decode(item map[string]types.AttributeValue) bool {
	for name, av := range item {
		field, known := sessionFields[name]
		if !known {
			continue
		}
		ok := false
		switch f := field(it).(type) {
		case *string:
			var v *types.AttributeValueMemberS
			if v, ok = av.(*types.AttributeValueMemberS); ok {
				*f = v.Value
			}
		case *int64:
			*f, ok = avN(av)
		case *int:
			var n int64
			if n, ok = avN(av); ok && int64(int(n)) == n {
				*f = int(n)
			} else {
				ok = false
			}
		case *bool:
			var v *types.AttributeValueMemberBOOL
			if v, ok = av.(*types.AttributeValueMemberBOOL); ok {
				*f = v.Value
			}
		case *[]string:
			var v *types.AttributeValueMemberSS
			if v, ok = av.(*types.AttributeValueMemberSS); ok {
				*f = append([]string(nil), v.Value...)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func avN(av types.AttributeValue) (int64, bool) {
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}
