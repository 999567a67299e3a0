"""Reports: the supervisory notice (Word, GB/T 9704 layout), the dashboard (HTML)."""
