"""The ProductPilot REST API (an entry point: it may start flows, the core never imports it)."""
