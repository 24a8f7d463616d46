"""Notification-stack summaries: ranked, length-capped and grounded in their sources."""
