"""GitHub: inbound webhooks (:mod:`integrations.github.webhooks`)."""
