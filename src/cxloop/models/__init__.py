"""Statistical models over per-customer summaries (numpy/scipy, no engine imports)."""
