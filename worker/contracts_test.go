package worker_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/nudgehq/nudge/workflows"
)

// Sends scheduled by older workers are retried by newer ones, so every
// activity input in the recorded histories (version 0 to 2, when message
// data was a map) must decode into today's typed contracts with nothing
// lost: each key the old data had is a field of the new.
func TestRecordedSendsDecodeIntoContracts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "histories", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	dc := converter.GetDefaultDataConverter()
	decoded := map[string]int{}
	for _, f := range files {
		for _, ev := range loadHistory(t, f).GetEvents() {
			if ev.GetEventType() != enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
				continue
			}
			attrs := ev.GetActivityTaskScheduledEventAttributes()
			name := attrs.GetActivityType().GetName()
			var typed any
			switch name {
			case workflows.SendEmailActivity:
				typed = &workflows.EmailRequest{}
			case workflows.SendSMSActivity:
				typed = &workflows.SMSRequest{}
			case workflows.SendSlackActivity:
				typed = &workflows.SlackRequest{}
			default:
				continue
			}
			var raw map[string]any
			if err := dc.FromPayloads(attrs.GetInput(), &raw); err != nil {
				t.Fatalf("%s event %d: %v", f, ev.GetEventId(), err)
			}
			if err := dc.FromPayloads(attrs.GetInput(), typed); err != nil {
				t.Fatalf("%s event %d: %s input does not decode: %v", f, ev.GetEventId(), name, err)
			}
			// What the typed request says, back in the wire's shape.
			b, _ := json.Marshal(typed)
			var again map[string]any
			_ = json.Unmarshal(b, &again)
			old, _ := raw["Data"].(map[string]any)
			now, _ := again["Data"].(map[string]any)
			for k, v := range old {
				if isZero(v) {
					continue // omitted now, as it says nothing
				}
				if _, ok := now[k]; !ok {
					t.Errorf("%s event %d: %s data %q = %v is lost", f, ev.GetEventId(), name, k, v)
				}
			}
			for _, k := range []string{"Key", "ContactID", "Template", "Kind"} {
				if raw[k] != again[k] {
					t.Errorf("%s event %d: %s %s = %v, want %v", f, ev.GetEventId(), name, k, again[k], raw[k])
				}
			}
			if p, ok := old["discount_percent"]; ok {
				if got := typed.(*workflows.EmailRequest).Data.DiscountPercent; got == 0 {
					t.Errorf("%s event %d: discount_percent %v read as 0", f, ev.GetEventId(), p)
				}
			}
			decoded[name]++
		}
	}
	for _, name := range []string{workflows.SendEmailActivity, workflows.SendSMSActivity, workflows.SendSlackActivity} {
		if decoded[name] == 0 {
			t.Errorf("no recorded %s input to decode", name)
		}
	}
	t.Logf("decoded %v", decoded)
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	}
	return false
}
