package workflows

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEncodeIDKeepsPlainIDsAndEncodesTheRestReversibly(t *testing.T) {
	cases := map[string]string{
		"user-42":               "user-42",
		"ana@example.com":       "ana@example.com",
		"John Smith":            "John Smith",
		"müller":                "m%C3%BCller",
		"josé@café.example":     "jos%C3%A9@caf%C3%A9.example",
		"🎉":                     "%F0%9F%8E%89",
		"50%off":                "50%25off",
		"a/b?c=d&e#f":           "a/b?c=d&e#f",
		"already%C3%BCencoded?": "already%25C3%25BCencoded?",
	}
	for id, want := range cases {
		got := EncodeID(id)
		require.Equal(t, want, got, id)
		for i := 0; i < len(got); i++ {
			require.True(t, got[i] >= 0x20 && got[i] < 0x7f, "%q has byte %#x, which a gRPC header refuses", got, got[i])
		}
		back, err := DecodeID(got)
		require.NoError(t, err)
		require.Equal(t, id, back)
	}
	require.Equal(t, "contact/m%C3%BCller", ContactWorkflowID("müller"))
	j := Journey{Name: "abandoned_cart"}
	require.Equal(t, "journey/abandoned_cart/m%C3%BCller/k%C3%B6rb", j.WorkflowID("müller", "körb"))
}

func TestCheckIDNamesWhatIsWrong(t *testing.T) {
	require.NoError(t, CheckID("müller"))
	require.NoError(t, CheckID("👩‍👩‍👧")) // zero-width joiners are format characters, not control ones
	require.NoError(t, CheckID(strings.Repeat("x", MaxIDLength)))
	for id, want := range map[string]string{
		"":                       "is blank; send a non-empty ID or leave the field out",
		" \t":                    "is blank; send a non-empty ID or leave the field out",
		"bob\x00":                "contains a control character (U+0000) at character 4; IDs take printable text only",
		"a\u0085b":               "contains a control character (U+0085) at character 2; IDs take printable text only",
		"m\xfcller":              "is not valid UTF-8",
		strings.Repeat("x", 192): "is 192 characters long; the limit is 191",
		strings.Repeat("日", 45):  "takes 405 bytes in a workflow ID, over the limit of 400; non-ASCII characters take 6 to 12 bytes each there, so use a shorter ID",
	} {
		err := CheckID(id)
		require.Error(t, err, "%q", id)
		require.Equal(t, want, err.Error(), "%q", id)
	}
	// The longest journey workflow ID fits Temporal's 1,000-byte default.
	longest := "journey/" + strings.Repeat("n", 64) + "/" + strings.Repeat("%FF", MaxEncodedIDLength/3) + "/" + strings.Repeat("%FF", MaxEncodedIDLength/3)
	require.Less(t, len(longest), 1000)
}
