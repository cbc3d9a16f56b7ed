"""Op specifications: norm."""

SPECS = []
