"""Op specifications: resize."""

SPECS = []
