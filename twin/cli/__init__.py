"""Command-line interface. Each command lives in its own module and calls library code."""
