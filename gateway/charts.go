package gateway

import (
	"fmt"
	"html/template"

	"github.com/go-analyze/charts"
)

// Charts for the dashboard, drawn on the server as SVG by go-analyze/charts
// and put in the page as they are: no script, nothing from another site.

// lineChart draws one line per series over the labels.
func lineChart(title string, labels, names []string, values [][]float64, width, height int) (template.HTML, error) {
	opt := charts.NewLineChartOptionWithData(values)
	opt.Title = charts.TitleOption{Text: title}
	opt.XAxis.Labels = labels
	opt.Legend = charts.LegendOption{SeriesNames: names}
	return render(width, height, func(p *charts.Painter) error { return p.LineChart(opt) })
}

// funnelChart draws a funnel of the stages' values, widest first.
func funnelChart(title string, stages []string, values []float64, width, height int) (template.HTML, error) {
	opt := charts.NewFunnelChartOptionWithData(values)
	opt.Title = charts.TitleOption{Text: title}
	opt.Legend = charts.LegendOption{SeriesNames: stages}
	return render(width, height, func(p *charts.Painter) error { return p.FunnelChart(opt) })
}

func render(width, height int, draw func(*charts.Painter) error) (template.HTML, error) {
	p := charts.NewPainter(charts.PainterOptions{OutputFormat: charts.ChartOutputSVG, Width: width, Height: height})
	if err := draw(p); err != nil {
		return "", fmt.Errorf("draw chart: %w", err)
	}
	svg, err := p.Bytes()
	if err != nil {
		return "", fmt.Errorf("render chart: %w", err)
	}
	// The SVG is ours, built from figures and names in this code, not from
	// anything a visitor sent.
	return template.HTML(svg), nil // #nosec G203
}
