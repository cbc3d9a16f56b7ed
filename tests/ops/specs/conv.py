"""Op specifications: conv."""

SPECS = []
