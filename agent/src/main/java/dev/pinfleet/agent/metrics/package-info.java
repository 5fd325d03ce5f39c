/**
 * The agent's Prometheus metrics: {@link dev.pinfleet.agent.metrics.AgentMetrics} (meter names as constants,
 * derived from deploy reports and the node's disk) and {@link dev.pinfleet.metrics.MetricsServer}
 * ({@code GET /metrics} on the {@code metrics-listen} address). The Grafana dashboard in
 * {@code ansible/files/grafana/pinfleet.json} queries only these names.
 */
package dev.pinfleet.agent.metrics;
