"""Model registry, provisioning, LLM backends and embedders (the bottom layer)."""
