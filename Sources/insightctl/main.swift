print("insightctl")
