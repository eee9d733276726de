package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crmdav/crmdav/syncstate"
)

// metrics are the server's Prometheus metrics, served at /metrics: request
// counts and durations, and the sync state read from the store at each
// scrape (pending and refused changes — invariant 6 — and feed ages).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(st *syncstate.Store) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crmdav_http_requests_total", Help: "HTTP requests by method and status code.",
	}, []string{"method", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "crmdav_http_request_duration_seconds", Help: "HTTP request durations by method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"method"})
	m.reg.MustRegister(m.requests, m.duration, statusCollector{st}, prometheus.NewGoCollector())
	return m
}

func (m *metrics) observe(method string, code int, d time.Duration) {
	m.requests.WithLabelValues(method, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(method).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusCollector reads Store.Status at scrape time.
type statusCollector struct{ st *syncstate.Store }

var (
	descPending  = prometheus.NewDesc("crmdav_outbox_pending", "Client changes accepted and not yet in the CRM.", nil, nil)
	descRejected = prometheus.NewDesc("crmdav_outbox_rejected", "Client changes the CRM refused for good (see crmdav status).", nil, nil)
	descItems    = prometheus.NewDesc("crmdav_objects", "DAV objects served.", nil, nil)
	descUsers    = prometheus.NewDesc("crmdav_users", "Gateway users.", nil, nil)
	descPolled   = prometheus.NewDesc("crmdav_feed_last_read_timestamp_seconds", "When each CRM change feed was last read.", []string{"kind"}, nil)
)

func (c statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descPending
	ch <- descRejected
	ch <- descItems
	ch <- descUsers
	ch <- descPolled
}

func (c statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.st.Status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descPending, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(descRejected, prometheus.GaugeValue, float64(len(s.Rejected)))
	ch <- prometheus.MustNewConstMetric(descItems, prometheus.GaugeValue, float64(s.Items))
	ch <- prometheus.MustNewConstMetric(descUsers, prometheus.GaugeValue, float64(s.Users))
	for k, t := range s.Polled {
		ch <- prometheus.MustNewConstMetric(descPolled, prometheus.GaugeValue, float64(t.Unix()), k)
	}
}
