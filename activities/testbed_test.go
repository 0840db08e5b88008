package activities_test

import (
	"context"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/nudgehq/nudge/activities"
	"github.com/nudgehq/nudge/models"
)

// testbed is what the activity tests stand on: a real SQLite store and the
// SDK's activity test environment, with acts registered in it. Each test
// fills in the parts of acts it needs before it runs an activity.
type testbed struct {
	acts  *activities.Activities
	store *models.Store
	env   *testsuite.TestActivityEnvironment
}

func newTestbed(t *testing.T, acts *activities.Activities) testbed {
	t.Helper()
	store, err := models.Open("sqlite://" + filepath.Join(t.TempDir(), "nudge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	acts.Store = store
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	acts.Register(env)
	return testbed{acts: acts, store: store, env: env}
}

func (b testbed) addContact(t *testing.T, c models.Contact) {
	t.Helper()
	if err := b.store.SaveContact(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
}

// run executes an activity by name; out receives its result.
func (b testbed) run(t *testing.T, name string, req, out any) error {
	t.Helper()
	v, err := b.env.ExecuteActivity(name, req)
	if err != nil {
		return err
	}
	if out != nil {
		if err := v.Get(out); err != nil {
			t.Fatal(err)
		}
	}
	return nil
}

// row returns the message stored under key.
func (b testbed) row(t *testing.T, key string) models.Message {
	t.Helper()
	var m models.Message
	if err := b.store.DB().Where("`key` = ?", key).Take(&m).Error; err != nil {
		t.Fatalf("message %s: %v", key, err)
	}
	return m
}
