"""Linear: inbound webhooks (:mod:`integrations.linear.webhooks`)."""
