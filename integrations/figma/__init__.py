"""Figma: inbound webhooks (:mod:`integrations.figma.webhooks`)."""
