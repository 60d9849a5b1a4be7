"""Settings, wiring, the HTTP service, the CLI and the web portal (the top layer)."""
