package models_test

import (
	"context"
	"os"
	"regexp"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/nudgehq/nudge/models"
)

func TestPersonalID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		personal bool
	}{
		{"jane.doe@example.com", "jane.doe@example.com", true},
		{" Jane.Doe@Example.COM ", "jane.doe@example.com", true},
		{"Jane Doe <jane.doe@example.com>", "jane.doe@example.com", true},
		{"ops@localhost", "ops@localhost", true},
		{"a@b@c", "a@b@c", true}, // unparsed, still address-shaped
		{"+1 (555) 010-0199", "+15550100199", true},
		{"+4915112345678", "+4915112345678", true},
		{"(555) 010-0199", "5550100199", true},
		{"u-123", "", false},
		{"12345678901", "", false}, // a bare run of digits is a database ID
		{"@handle", "", false},
		{"user@", "", false},
		{"+12", "", false}, // too short for a phone number
		{"order-555-0100", "", false},
	} {
		got, ok := models.PersonalID(tc.in)
		if got != tc.want || ok != tc.personal {
			t.Errorf("PersonalID(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.personal)
		}
	}
}

// An email address or phone number as userId never becomes a contact ID
// (which Temporal shows in workflow IDs and search attributes): the contact
// gets an opaque ID, the same for every spelling of the address, from every
// store on the database; other userIds stay as they are.
func TestAddressesGetOpaqueContactIDs(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		got, err := s.Accept(ctx, []models.Incoming{
			identify("i1", "Jane.Doe@Example.com", "", map[string]any{"email": "Jane.Doe@Example.com"}),
			track("t1", "jane.doe@example.com", "", "Signed Up"),
			track("t2", "+1 555 010 0199", "", "Signed Up"),
			track("t3", "u-7", "", "Signed Up"),
		}, models.Lease{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 {
			t.Fatalf("stored %d events, want 4", len(got))
		}
		opaque := regexp.MustCompile(`^c_[a-z2-7]{26}$`)
		jane, phone := got[0].ContactID, got[2].ContactID
		if !opaque.MatchString(jane) || !opaque.MatchString(phone) || jane == phone {
			t.Fatalf("contact IDs %q and %q: want two distinct opaque IDs", jane, phone)
		}
		if got[1].ContactID != jane {
			t.Errorf("the lower-case spelling went to %q, want %q", got[1].ContactID, jane)
		}
		if got[3].ContactID != "u-7" {
			t.Errorf("userId u-7 became %q", got[3].ContactID)
		}
		c, err := s.Contact(ctx, jane)
		if err != nil || c.Email != "Jane.Doe@Example.com" {
			t.Fatalf("contact %q: %+v, %v", jane, c, err)
		}
		for in, want := range map[string]string{
			"JANE.DOE@example.com": jane, "+15550100199": phone, "u-7": "u-7", "nobody@example.com": "nobody@example.com",
		} {
			if id, err := s.ResolveContact(ctx, in); err != nil || id != want {
				t.Errorf("ResolveContact(%q) = %q, %v; want %q", in, id, err, want)
			}
		}
		var n int64
		s.DB().Model(&models.Contact{}).Where("id LIKE ?", "%@%").Count(&n)
		if n != 0 {
			t.Errorf("%d contacts have an address as their ID", n)
		}

		// Another process on the same database maps the address the same
		// way, even before it has seen the mapping row: the key is shared.
		s.DB().Where("1 = 1").Delete(&models.UserID{})
		other := reopen(t, s)
		got, err = other.Accept(ctx, []models.Incoming{track("t4", "jane.doe@example.com", "", "Signed Up")}, models.Lease{})
		if err != nil || len(got) != 1 || got[0].ContactID != jane {
			t.Fatalf("second store: %v, %v; want the event for %q", names(got), err, jane)
		}
	})
}

// Contacts from before opaque IDs keep the address as their ID, so their
// running workflows keep getting their events; new addresses get opaque IDs.
func TestContactsFromBeforeOpaqueIDsKeepTheirIDs(t *testing.T) {
	eachStore(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		if err := s.SaveContact(ctx, &models.Contact{ID: "bob@example.com", Email: "bob@example.com", LifecycleStage: models.StageSubscriber, Traits: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Accept(ctx, []models.Incoming{
			track("t1", "bob@example.com", "", "Order Completed"),
			track("t2", "Bob@Example.com", "", "Order Completed"),
			track("t3", "new@example.com", "", "Signed Up"),
		}, models.Lease{})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].ContactID != "bob@example.com" || got[1].ContactID != "bob@example.com" {
			t.Errorf("legacy contact's events went to %q and %q", got[0].ContactID, got[1].ContactID)
		}
		if got[2].ContactID == "new@example.com" {
			t.Errorf("a new address became a contact ID")
		}
		if id, _ := s.ResolveContact(ctx, "BOB@example.com"); id != "bob@example.com" {
			t.Errorf("ResolveContact(BOB@example.com) = %q", id)
		}
	})
}

// reopen opens a second Store on s's database, as another process would.
func reopen(t *testing.T, s *models.Store) *models.Store {
	t.Helper()
	if s.Dialect == "sqlite" {
		var rows []struct{ Name, File string }
		if err := s.DB().Raw("PRAGMA database_list").Scan(&rows).Error; err != nil || len(rows) == 0 {
			t.Fatalf("database_list: %v", err)
		}
		return openStore(t, "sqlite://"+rows[0].File)
	}
	var name string
	if err := s.DB().Raw("SELECT DATABASE()").Scan(&name).Error; err != nil {
		t.Fatal(err)
	}
	cfg, err := mysqldriver.ParseDSN(os.Getenv("NUDGE_TEST_MYSQL_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	return openStore(t, "mysql://"+cfg.FormatDSN())
}
