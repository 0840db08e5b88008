package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serverOps counts the Temporal server's persistence operations by kind,
// from its Prometheus endpoint. On one dev server the database is where a
// workflow's cost lands, so the count per sign-up says where the time goes.
type serverOps map[string]float64

func readServerOps(url string) (serverOps, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	ops := serverOps{}
	if f, ok := families["persistence_requests"]; ok {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" {
					ops[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return ops, nil
}

// since is what happened between an earlier reading and this one.
func (o serverOps) since(earlier serverOps) serverOps {
	d := serverOps{}
	for k, v := range o {
		if v -= earlier[k]; v > 0 {
			d[k] = v
		}
	}
	return d
}

// opsKinds are the writes and reads a workflow's life is made of; the rest
// (namespace and cluster lookups, queue scans) cost little.
var opsKinds = []string{"CreateWorkflowExecution", "UpdateWorkflowExecution", "GetWorkflowExecution", "ReadHistoryBranch", "CreateTasks"}

// printOpsPerSignup prints each kind's count per sign-up for raw and Nudge.
func printOpsPerSignup(raw, nudge serverOps, rawN, nudgeN int) {
	fmt.Printf("  Temporal persistence operations per sign-up:\n")
	fmt.Printf("  %-26s %8s %8s\n", "", "raw", "Nudge")
	var rawAll, nudgeAll float64
	for _, k := range opsKinds {
		r, n := raw[k]/float64(rawN), nudge[k]/float64(nudgeN)
		rawAll, nudgeAll = rawAll+r, nudgeAll+n
		fmt.Printf("  %-26s %8.2f %8.2f\n", k, r, n)
	}
	fmt.Printf("  %-26s %8.2f %8.2f\n", "these, in all", rawAll, nudgeAll)
	var others []string
	for k := range nudge {
		if !slices.Contains(opsKinds, k) && nudge[k]/float64(nudgeN) >= 0.5 {
			others = append(others, fmt.Sprintf("%s %.1f", k, nudge[k]/float64(nudgeN)))
		}
	}
	slices.Sort(others)
	if len(others) > 0 {
		fmt.Printf("  others for Nudge: %s\n", strings.Join(others, ", "))
	}
}
