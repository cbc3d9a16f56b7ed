"""Op specifications: pool."""

SPECS = []
