"""Slack: inbound Events API requests (:mod:`integrations.slack.webhooks`)."""
