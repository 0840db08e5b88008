package models

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nudgehq/nudge/workflows"
)

// traitLimits are the longest values the contact's own columns hold, by
// the reserved trait (in either spelling) that fills each, in the order
// they are checked.
var traitLimits = []struct {
	key   string
	limit int
}{
	{"email", 320}, {"phone", 32}, {"firstName", 191}, {"first_name", 191}, {"lastName", 191}, {"last_name", 191},
	{"name", 191}, {"title", 191}, {"company", 191}, {"industry", 191}, {"timezone", 64},
}

// CheckTraits says which reserved trait is too long for its column, as
// "email" or "company.name", with what is wrong; "" when all fit.
func CheckTraits(traits map[string]any) (key string, err error) {
	check := func(key string, v any, limit int) (string, error) {
		if s, ok := v.(string); ok && utf8.RuneCountInString(s) > limit {
			return key, fmt.Errorf("is %d characters long; the limit is %d", utf8.RuneCountInString(s), limit)
		}
		return "", nil
	}
	for _, t := range traitLimits {
		if key, err := check(t.key, traits[t.key], t.limit); err != nil {
			return key, err
		}
	}
	if company, ok := traits["company"].(map[string]any); ok {
		for _, k := range []string{"name", "industry"} {
			if key, err := check("company."+k, company[k], 191); err != nil {
				return key, err
			}
		}
	}
	return "", nil
}

// ApplyTraits merges identify traits into the contact. Segment's reserved
// traits fill the contact's own fields, in camelCase or snake_case; every
// trait, reserved or custom, is also kept in Traits. contextTimezone is the
// call's context.timezone, used when the traits carry none.
func (c *Contact) ApplyTraits(traits map[string]any, contextTimezone string) {
	if c.Traits == nil {
		c.Traits = map[string]any{}
	}
	workflows.MergeTraits(c.Traits, traits)
	set := func(field *string, keys ...string) {
		if v := firstString(traits, keys...); v != "" {
			*field = v
		}
	}
	set(&c.Email, "email")
	set(&c.Phone, "phone")
	set(&c.FirstName, "firstName", "first_name")
	set(&c.LastName, "lastName", "last_name")
	set(&c.Title, "title")
	set(&c.Industry, "industry")
	set(&c.Timezone, "timezone")
	if c.Timezone == "" && contextTimezone != "" {
		c.Timezone = contextTimezone
	}
	// "name" fills first and last name only when they were not given apart.
	if name := firstString(traits, "name"); name != "" && firstString(traits, "firstName", "first_name", "lastName", "last_name") == "" {
		first, last, _ := strings.Cut(name, " ")
		c.FirstName, c.LastName = first, strings.TrimSpace(last)
	}
	switch company := traits["company"].(type) {
	case string:
		c.Company = company
	case map[string]any:
		if s, ok := company["name"].(string); ok && s != "" {
			c.Company = s
		}
		if s, ok := company["industry"].(string); ok && s != "" && firstString(traits, "industry") == "" {
			c.Industry = s
		}
		if n, ok := number(company, "employee_count", "employeeCount", "employees"); ok {
			c.EmployeeCount = n
		}
	}
	if n, ok := number(traits, "employee_count", "employeeCount", "employees"); ok {
		c.EmployeeCount = n
	}
	if consent, ok := firstBool(traits, "sms_consent", "smsConsent", "sms_opt_in", "smsOptIn"); ok && c.SMSOptedOutAt == nil {
		// A STOP reply outranks any trait: only START undoes it.
		c.SMSConsent = consent
	}
	c.Email = strings.TrimSpace(c.Email)
	c.Phone = strings.TrimSpace(c.Phone)
}

func firstBool(m map[string]any, keys ...string) (bool, bool) {
	for _, k := range keys {
		if b, ok := m[k].(bool); ok {
			return b, true
		}
	}
	return false, false
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func number(m map[string]any, keys ...string) (int, bool) {
	for _, k := range keys {
		if f, ok := m[k].(float64); ok {
			return int(f), true
		}
	}
	return 0, false
}
