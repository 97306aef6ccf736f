"""CLI command classes (one module per area)."""
