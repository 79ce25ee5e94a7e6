package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	inflight   prometheus.Gauge
	loadTime   *prometheus.GaugeVec
	dbCommits  prometheus.Counter
	dbRatings  prometheus.Counter
	dbErrors   prometheus.Counter
	dbWriteDur prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "harmonium_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "harmonium_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by route, method and status code.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "code"})
	m.inflight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "harmonium_http_requests_in_flight", Help: "Requests being answered or waiting for a work slot.",
	})
	m.loadTime = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "harmonium_model_load_seconds", Help: "Time taken to load and prepare each model.",
	}, []string{"model", "kind"})
	m.dbCommits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "harmonium_db_commits_total", Help: "Transactions committed to the ratings database.",
	})
	m.dbRatings = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "harmonium_db_ratings_written_total", Help: "Ratings written to the ratings database.",
	})
	m.dbErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "harmonium_db_write_errors_total", Help: "Rating writes that failed.",
	})
	m.dbWriteDur = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "harmonium_db_write_duration_seconds",
		Help:    "Time from a ratings request's write to its durable commit.",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
	})
	m.reg.MustRegister(m.requests, m.latency, m.inflight, m.loadTime, m.dbCommits, m.dbRatings, m.dbErrors, m.dbWriteDur,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the metrics in Prometheus' text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
