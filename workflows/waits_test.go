package workflows

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A journey hears only the events its catalog entry lists (Goals, Waits)
// and its trigger: ContactWorkflow forwards nothing else. A wait for any
// other event would silently run to its timeout, so every event a journey
// file waits for, counts or looks up must be listed.
func TestJourneysWaitOnlyForListedEvents(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name, problems, err := unlistedWaits(f, src)
		if err != nil {
			t.Fatal(err)
		}
		if name != "" {
			found = append(found, name)
		}
		for _, p := range problems {
			t.Error(p)
		}
	}
	for _, name := range JourneyNames() {
		if !slices.Contains(found, name) {
			t.Errorf("journey %s: no file registers it with a register(Journey{…}) literal this check can read", name)
		}
	}
}

// Journeys are written in the public vocabulary of Run (Email, SMS, Step,
// WaitUntil, WaitFor, Active, …), so that a journey in another package could
// be written the same way, and the helpers stay the one place that knows
// how a step is run.
func TestJourneysUseThePublicAPI(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name, _, err := unlistedWaits(f, src)
		if err != nil || name == "" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "j" && !ast.IsExported(sel.Sel.Name) {
					t.Errorf("%s:%d: journey %s uses j.%s, which is not part of Run's public API", f, fset.Position(sel.Pos()).Line, name, sel.Sel.Name)
				}
			}
			return true
		})
	}
}

// The check itself fails on a wait its journey does not list.
func TestUnlistedWaitIsCaught(t *testing.T) {
	src := `package workflows
func init() {
	register(Journey{Name: "parcel", Starts: func(ev Event, _ map[string]any) bool { return ev.Is(EventOrderCompleted) },
		Waits: []string{EventOrderShipped}})
}
func Parcel(ctx workflow.Context, in JourneyInput) error {
	j := Begin(ctx, in)
	j.WaitFor(EventOrderShipped, 2*Day)
	j.Latest(EventOrderCompleted)
	if j.WaitFor(EventOrderDelivered, 9*Day) {
		j.Email("delivered")
	}
	return j.End()
}`
	name, problems, err := unlistedWaits("parcel.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"parcel.go:10: journey parcel waits for EventOrderDelivered, which its Waits and Goals do not list: it would never arrive"}
	if name != "parcel" || !slices.Equal(problems, want) {
		t.Errorf("got %q, %q; want parcel, %q", name, problems, want)
	}
}

// waitMethods are the Run methods that read events the journey must hear.
var waitMethods = []string{"WaitFor", "WaitAfter", "Received", "Count", "Latest"}

// unlistedWaits reads a journey file: the journey it registers (name, ""
// when none) and each call of a wait method with an event that the
// journey's Goals, Waits and trigger (the events its Starts checks with
// Is) do not include.
func unlistedWaits(filename string, src []byte) (name string, problems []string, err error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filename, src, 0)
	if err != nil {
		return "", nil, err
	}
	var heard []string
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return true
		}
		if fn, ok := call.Fun.(*ast.Ident); !ok || fn.Name != "register" {
			return true
		}
		lit, ok := call.Args[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		for _, el := range lit.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			switch key := kv.Key.(*ast.Ident).Name; key {
			case "Name":
				if s, ok := kv.Value.(*ast.BasicLit); ok {
					name = strings.Trim(s.Value, `"`)
				}
			case "Goals", "Waits", "WaitsFrom4", "Starts":
				heard = append(heard, eventIdents(kv.Value)...)
			}
		}
		return false
	})
	if name == "" {
		return "", nil, nil
	}
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !slices.Contains(waitMethods, sel.Sel.Name) {
			return true
		}
		if ev, ok := call.Args[0].(*ast.Ident); ok && strings.HasPrefix(ev.Name, "Event") && !slices.Contains(heard, ev.Name) {
			problems = append(problems, fmt.Sprintf("%s:%d: journey %s waits for %s, which its Waits and Goals do not list: it would never arrive",
				filename, fset.Position(call.Pos()).Line, name, ev.Name))
		}
		return true
	})
	return name, problems, nil
}

// eventIdents lists the Event… constants an expression names.
func eventIdents(e ast.Expr) []string {
	var out []string
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && strings.HasPrefix(id.Name, "Event") {
			out = append(out, id.Name)
		}
		return true
	})
	return out
}
