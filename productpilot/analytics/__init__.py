"""Analytics: metric series from the rollups and metric tables (more with the analytics flows)."""
