"""Risk feeds: CISA's KEV catalog and FIRST's EPSS scores, kept in Redis and joined to reports."""
