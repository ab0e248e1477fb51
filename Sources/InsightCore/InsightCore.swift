// InsightCore
