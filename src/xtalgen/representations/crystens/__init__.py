"""xtalgen.representations.crystens."""
