"""Op specifications: dropout."""

SPECS = []
