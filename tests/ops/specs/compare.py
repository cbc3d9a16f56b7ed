"""Op specifications: compare."""

SPECS = []
