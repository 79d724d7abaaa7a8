"""HTTP push: sensors and gateways POST readings to /api/v1/readings with a bearer token."""
