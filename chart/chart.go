// Package chart draws Nudge's charts with go-analyze/charts: as SVG for the
// dashboard's pages, as PNG for report emails, from the same code.
package chart

import (
	"fmt"

	"github.com/go-analyze/charts"
)

// Formats a chart is drawn in.
const (
	SVG = charts.ChartOutputSVG
	PNG = charts.ChartOutputPNG
)

// Line draws one line per series over the labels.
func Line(format, title string, labels, names []string, values [][]float64, width, height int) ([]byte, error) {
	opt := charts.NewLineChartOptionWithData(values)
	opt.Title = charts.TitleOption{Text: title}
	opt.XAxis.Labels = labels
	opt.Legend = charts.LegendOption{SeriesNames: names}
	return render(format, width, height, func(p *charts.Painter) error { return p.LineChart(opt) })
}

// Funnel draws a funnel of the stages' values, widest first.
func Funnel(format, title string, stages []string, values []float64, width, height int) ([]byte, error) {
	opt := charts.NewFunnelChartOptionWithData(values)
	opt.Title = charts.TitleOption{Text: title}
	opt.Legend = charts.LegendOption{SeriesNames: stages}
	return render(format, width, height, func(p *charts.Painter) error { return p.FunnelChart(opt) })
}

func render(format string, width, height int, draw func(*charts.Painter) error) ([]byte, error) {
	p := charts.NewPainter(charts.PainterOptions{OutputFormat: format, Width: width, Height: height})
	if err := draw(p); err != nil {
		return nil, fmt.Errorf("draw chart: %w", err)
	}
	b, err := p.Bytes()
	if err != nil {
		return nil, fmt.Errorf("render chart: %w", err)
	}
	return b, nil
}
