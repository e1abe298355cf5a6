"""The PyXtal random-structure baseline: sampling and its family entry."""
