// InsightDaemon
