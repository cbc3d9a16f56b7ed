"""Op specifications: embedding."""

SPECS = []
