"""Op specifications: attention."""

SPECS = []
