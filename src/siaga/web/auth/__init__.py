"""Accounts of the dashboard and the API: people with roles, sessions, CSRF, login throttling, API tokens."""
