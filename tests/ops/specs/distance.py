"""Op specifications: distance."""

SPECS = []
