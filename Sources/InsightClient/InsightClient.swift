// InsightClient
