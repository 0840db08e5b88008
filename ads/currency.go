package ads

import "strings"

// metaWholeUnits are the currencies whose Meta amounts (daily_budget,
// lifetime_budget, bid_amount) count whole units rather than hundredths:
// the ones with offset 1 in Meta's currency table (Marketing API,
// "Currency codes"). Meta's list differs from ISO 4217's minor units: it
// counts HUF and TWD whole, for one.
var metaWholeUnits = map[string]bool{
	"CLP": true, "COP": true, "CRC": true, "HUF": true, "ISK": true, "IDR": true,
	"JPY": true, "KRW": true, "PYG": true, "TWD": true, "VND": true,
}

// MetaOffset is how many of Meta's budget units make one unit of the
// currency: 1 for the currencies above, 100 for every other.
func MetaOffset(currency string) int64 {
	if metaWholeUnits[strings.ToUpper(strings.TrimSpace(currency))] {
		return 1
	}
	return 100
}

// FromMetaBudget turns a Meta budget (daily_budget, in the account
// currency's offset units: cents for USD, yen for JPY) into micros.
func FromMetaBudget(amount int64, currency string) Micros {
	return Micros(amount * (1_000_000 / MetaOffset(currency)))
}
