"""xtalgen.data."""
