"""Alerts: one episode of one condition on one subject, and the incidents that group them."""
