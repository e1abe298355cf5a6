"""PGCGM: physics-guided crystal generation from base sites (training, sampling, its family entry)."""
