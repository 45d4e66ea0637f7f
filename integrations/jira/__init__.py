"""Jira Cloud: inbound webhooks (:mod:`integrations.jira.webhooks`)."""
