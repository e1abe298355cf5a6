"""xtalgen.representations.basesites."""
