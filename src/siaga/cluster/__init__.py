"""Several ``siaga serve`` processes on one PostgreSQL: roles under leases with fencing tokens, membership."""
