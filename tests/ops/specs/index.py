"""Op specifications: index."""

SPECS = []
