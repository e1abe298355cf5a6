"""xtalgen.evaluation."""
