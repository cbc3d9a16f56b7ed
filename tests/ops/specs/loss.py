"""Op specifications: loss."""

SPECS = []
