"""Op specifications: join."""

SPECS = []
