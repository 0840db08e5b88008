package models

import "time"

// AdStat is one day of one campaign or ad set, as its platform reports it.
// The pull rewrites the last days each time, since late conversions change
// them. Money is in micros of the account currency (ads.Micros).
type AdStat struct {
	Platform    string `gorm:"primaryKey;size:16"` // meta or google
	ObjectID    string `gorm:"primaryKey;size:64"` // campaign or ad set ID
	Day         string `gorm:"primaryKey;size:10"` // YYYY-MM-DD in the ad account's time zone
	Account     string `gorm:"size:64;index:idx_ad_stats_account_day,priority:1"`
	Level       string `gorm:"size:16"` // campaign or adset
	CampaignID  string `gorm:"size:64;index"`
	Name        string `gorm:"size:255"`
	Currency    string `gorm:"size:3"`
	Spend       int64
	Impressions int64
	Clicks      int64
	Conversions float64
	Value       int64     // conversion value
	PulledAt    time.Time `gorm:"index:idx_ad_stats_account_day,priority:2"`
}

// AdObject is a campaign or ad set as last read from its platform: what
// rules change (status, daily budget) and what an undo restores.
type AdObject struct {
	Platform   string `gorm:"primaryKey;size:16"`
	ID         string `gorm:"primaryKey;size:64"`
	Account    string `gorm:"size:64;index"`
	Level      string `gorm:"size:16"`
	CampaignID string `gorm:"size:64"`
	Name       string `gorm:"size:255"`
	Status     string `gorm:"size:32"` // ACTIVE/PAUSED (Meta), ENABLED/PAUSED/REMOVED (Google)
	// DailyBudget in micros; 0 when the budget is set elsewhere (Meta's
	// ad set budgets or a lifetime budget).
	DailyBudget int64
	BudgetID    string `gorm:"size:64"` // Google's campaign budget
	Currency    string `gorm:"size:3"`
	UpdatedAt   time.Time
}
