"""Alerts: new serious findings of watched images, grouped per vulnerability, at most ALERT_DAILY_LIMIT a day."""
