"""xtalgen.models."""
