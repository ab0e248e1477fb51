// InsightStore
