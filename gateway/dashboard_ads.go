package gateway

import (
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nudgehq/nudge/ads"
	"github.com/nudgehq/nudge/chart"
	"github.com/nudgehq/nudge/models"
)

// adsChartCampaigns is how many campaigns, by spend, the ROAS chart draws:
// more lines than that cannot be told apart.
const adsChartCampaigns = 5

type adsPage struct {
	dashPage
	Enabled   bool
	Mode      string
	Campaigns []models.AdCampaign
	Spend     ads.Micros
	ROAS      float64 // the platforms' over the period
	NudgeROAS float64 // Nudge's own attribution
	Chart     template.HTML
	Actions   []models.AdAction
}

// dashboardAds shows what the ads spent and earned, ROAS by campaign over
// time, and what the rules did.
func (g *Gateway) dashboardAds(c *gin.Context) {
	d, ok := g.dashPeriod(c, "Ads", "ads")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	r := models.AdRange{From: d.Period.From.Format(time.DateOnly), To: d.Period.To.Add(-time.Nanosecond).Format(time.DateOnly)}
	campaigns, err := g.Store.AdCampaigns(ctx, r)
	if err != nil {
		g.serverError(c, "read ad campaigns", err)
		return
	}
	days, err := g.Store.AdCampaignDays(ctx, r)
	if err != nil {
		g.serverError(c, "read ad campaign days", err)
		return
	}
	actions, _, err := g.Store.AdActions(ctx, models.AdActionFilter{Limit: 50})
	if err != nil {
		g.serverError(c, "read the ad actions", err)
		return
	}
	p := adsPage{dashPage: d, Enabled: g.Config.AdsEnabled(), Mode: g.Config.AdMode(), Campaigns: campaigns, Actions: actions}
	var spend, value, revenue int64
	for _, a := range campaigns {
		spend, value, revenue = spend+a.Spend, value+a.Value, revenue+a.Revenue
	}
	p.Spend, p.ROAS, p.NudgeROAS = ads.Micros(spend), ads.ROAS(ads.Micros(value), ads.Micros(spend)), ads.ROAS(ads.Micros(revenue), ads.Micros(spend))
	if len(days) > 0 {
		if p.Chart, err = svg(roasChart(campaigns, days, d.Period)); err != nil {
			g.serverError(c, "draw the ROAS chart", err)
			return
		}
	}
	g.page(c, http.StatusOK, "dashboard_ads.html", p)
}

// roasChart draws the daily ROAS of the campaigns that spent most (campaigns
// come most spend first); a day without spend is 0.
func roasChart(campaigns []models.AdCampaign, days []models.AdCampaignDay, p models.Period) ([]byte, error) {
	var labels []string
	for day := p.From.Truncate(24 * time.Hour); day.Before(p.To); day = day.Add(24 * time.Hour) {
		labels = append(labels, day.Format(time.DateOnly))
	}
	top := campaigns[:min(len(campaigns), adsChartCampaigns)]
	names := make([]string, len(top))
	values := make([][]float64, len(top))
	for i, a := range top {
		names[i] = a.Name
		values[i] = make([]float64, len(labels))
		for _, d := range days {
			if d.Platform != a.Platform || d.CampaignID != a.ID {
				continue
			}
			if j := slices.Index(labels, d.Day); j >= 0 {
				values[i][j] = ads.ROAS(ads.Micros(d.Value), ads.Micros(d.Spend))
			}
		}
	}
	return chart.Line(chart.SVG, "ROAS by campaign (conversion value / spend)", labels, names, values, 900, 320)
}
