"""xtalgen.postprocess."""
