"""Slack: inbound Events API requests (:mod:`integrations.slack.webhooks`) and outbound
notifications (:mod:`integrations.slack.client`, :mod:`~integrations.slack.messages`,
:mod:`~integrations.slack.channel`)."""
