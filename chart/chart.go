// Package chart draws Nudge's charts with go-analyze/charts: as SVG for the
// dashboard's pages, as PNG for report emails, from the same code.
package chart

import (
	"fmt"

	"github.com/go-analyze/charts"

	"github.com/nudgehq/nudge/models"
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

// DailyEmails draws the emails sent, opened and clicked each day, by send
// date: the overview's chart and the report email's.
func DailyEmails(format string, days []models.DayStats, width, height int) ([]byte, error) {
	labels := make([]string, len(days))
	sent, opened, clicked := make([]float64, len(days)), make([]float64, len(days)), make([]float64, len(days))
	for i, d := range days {
		labels[i], sent[i], opened[i], clicked[i] = d.Day[5:], float64(d.Sent), float64(d.Opened), float64(d.Clicked)
	}
	return Line(format, "Emails by send date", labels, []string{"sent", "opened", "clicked"}, [][]float64{sent, opened, clicked}, width, height)
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

// Sparkline draws one small line with no axes, title or legend: a trend
// beside a figure in a table.
func Sparkline(format string, values []float64, width, height int) ([]byte, error) {
	opt := charts.NewLineChartOptionWithData([][]float64{values})
	opt.XAxis.Show = charts.Ptr(false)
	for i := range opt.YAxis {
		opt.YAxis[i].Show = charts.Ptr(false)
	}
	opt.Legend.Show = charts.Ptr(false)
	opt.Title.Show = charts.Ptr(false)
	opt.Symbol = charts.Symbol{Shape: charts.SymbolNone}
	opt.Padding = charts.NewBoxEqual(2)
	return render(format, width, height, func(p *charts.Painter) error { return p.LineChart(opt) })
}

// Threshold draws a rate by day (in percent; nil days left out) beside its
// limit as a flat line: the rate in green when the period passes, in red
// when it fails, and grey while it cannot be judged; the limit in grey.
func Threshold(format, title string, labels []string, rates []*float64, limit float64, pass *bool, width, height int) ([]byte, error) {
	values, limits := make([]float64, len(rates)), make([]float64, len(rates))
	for i, r := range rates {
		values[i], limits[i] = charts.GetNullValue(), limit*100
		if r != nil {
			values[i] = *r * 100
		}
	}
	opt := charts.NewLineChartOptionWithData([][]float64{values, limits})
	opt.Title = charts.TitleOption{Text: title}
	opt.XAxis.Labels = labels
	opt.Legend = charts.LegendOption{SeriesNames: []string{"rate %", "limit %"}}
	colour := charts.ColorGray
	if pass != nil && *pass {
		colour = charts.ColorGreen
	} else if pass != nil {
		colour = charts.ColorRed
	}
	opt.Theme = opt.Theme.WithSeriesColors([]charts.Color{colour, charts.ColorGray})
	return render(format, width, height, func(p *charts.Painter) error { return p.LineChart(opt) })
}
