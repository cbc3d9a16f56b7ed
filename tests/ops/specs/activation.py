"""Op specifications: activation."""

SPECS = []
