"""Figma: inbound webhooks (:mod:`integrations.figma.webhooks`); outbound, the REST hook
(:mod:`~integrations.figma.client`) and its credentials block."""
