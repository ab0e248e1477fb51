// InsightExtract
