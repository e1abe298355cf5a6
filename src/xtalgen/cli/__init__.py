"""Command line interface (typer). Only calls the public library API."""
