"""The public status page: snapshots built from the store's daily tallies, a router, staff incidents."""
