package store

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Session items are decoded by hand. Every read of sessions decodes them (a list page, an admin
// page of up to 2,000, a login at the cap), and attributevalue's reflection over the item's 40
// fields took about 4.7 µs an item: half a millisecond for the admin list's 100, most of Pulse's
// own time in it (BENCHMARKS.md, section 3). The reflection stays the reference: anything the
// fast path does not expect (an attribute of another type, a number that is not an integer)
// is decoded by it instead, and TestSessionItemDecoder holds the two to the same result for
// every field of sessionItem, so that a field added without a case here fails the test.

// plainSessionItem is sessionItem without its decoder: what attributevalue decodes by reflection.
type plainSessionItem sessionItem

// UnmarshalDynamoDBAttributeValue implements attributevalue.Unmarshaler: UnmarshalMap(item,
// &it) comes here.
func (it *sessionItem) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	if m, ok := av.(*types.AttributeValueMemberM); ok {
		var fast sessionItem
		if fast.decode(m.Value) {
			*it = fast
			return nil
		}
	}
	return attributevalue.Unmarshal(av, (*plainSessionItem)(it))
}

// decode sets it from item's attributes; false when one is not of the type the fast path knows.
func (it *sessionItem) decode(item map[string]types.AttributeValue) bool {
	for name, av := range item {
		ok := true
		switch name {
		case attrPK:
			it.PK, ok = avS(av)
		case attrSK:
			it.SK, ok = avS(av)
		case attrActivePK:
			it.ActivePK, ok = avS(av)
		case attrActiveSK:
			it.ActiveSK, ok = avN(av)
		case attrLiveKey:
			it.LiveKey, ok = avS(av)
		case attrInitKey:
			it.InitKey, ok = avS(av)
		case attrEndedKey:
			it.EndedKey, ok = avS(av)
		case attrEndLast:
			it.EndedLast, ok = avN(av)
		case attrEndExp:
			it.EndedExp, ok = avN(av)
		case "uname":
			it.UserName, ok = avS(av)
		case "utype":
			it.UserType, ok = avS(av)
		case attrExpPK:
			it.ExpPK, ok = avS(av)
		case attrExpSK:
			it.ExpSK, ok = avS(av)
		case "type":
			it.Type, ok = avS(av)
		case "tenant":
			it.Tenant, ok = avS(av)
		case "uid":
			it.User, ok = avS(av)
		case attrSID:
			it.ID, ok = avS(av)
		case "skey":
			it.Key, ok = avS(av)
		case "clients":
			var ss *types.AttributeValueMemberSS
			if ss, ok = av.(*types.AttributeValueMemberSS); ok {
				it.Clients = append([]string(nil), ss.Value...)
			}
		case attrInit:
			it.Initiated, ok = avN(av)
		case "last":
			it.Last, ok = avN(av)
		case "exp":
			it.Expires, ok = avN(av)
		case "hexp":
			it.HardExpires, ok = avN(av)
		case "day":
			it.Day, ok = avS(av)
		case "status":
			it.Status, ok = avS(av)
		case "ended":
			it.Ended, ok = avN(av)
		case "reason":
			it.Reason, ok = avS(av)
		case "ip":
			it.IP, ok = avS(av)
		case "ua":
			it.UA, ok = avS(av)
		case "browser":
			it.Browser, ok = avS(av)
		case "bver":
			it.Version, ok = avS(av)
		case "bmajor":
			var n int64
			if n, ok = avN(av); ok && int64(int(n)) == n {
				it.Major = int(n)
			} else {
				ok = false
			}
		case "os":
			it.OS, ok = avS(av)
		case "cc":
			it.CountryCode, ok = avS(av)
		case "country":
			it.Country, ok = avS(av)
		case "city":
			it.City, ok = avS(av)
		case "continent":
			it.Continent, ok = avS(av)
		case "lat":
			it.Lat, ok = avS(av)
		case "lon":
			it.Lon, ok = avS(av)
		case "fp":
			it.Fingerprint, ok = avS(av)
		case attrTTL:
			it.TTL, ok = avN(av)
		case "newdev":
			it.NewDevice, ok = avBool(av)
		case "newloc":
			it.NewLocation, ok = avBool(av)
		}
		if !ok {
			return false
		}
	}
	return true
}

func avS(av types.AttributeValue) (string, bool) {
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return s.Value, true
}

func avN(av types.AttributeValue) (int64, bool) {
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

func avBool(av types.AttributeValue) (bool, bool) {
	b, ok := av.(*types.AttributeValueMemberBOOL)
	if !ok {
		return false, false
	}
	return b.Value, true
}
