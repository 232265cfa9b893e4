"""/dashboard: the report as server-drawn charts, and a contact look-up. Read-only, no JavaScript,
off unless DASHBOARD_PASSWORD is set (connector/dashboard/auth.py)."""

from connector.dashboard.views import dashboard, warm

__all__ = ["dashboard", "warm"]
