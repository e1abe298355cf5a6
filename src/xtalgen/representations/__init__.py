"""xtalgen.representations."""
