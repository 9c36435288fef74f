"""Board definitions (JSON, data only) and their loader."""
