"""Op specifications: unary."""

SPECS = []
