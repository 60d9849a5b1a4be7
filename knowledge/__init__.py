"""Sources -> documents -> chunks -> indexes."""
