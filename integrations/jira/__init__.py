"""Jira Cloud: inbound webhooks (:mod:`integrations.jira.webhooks`) and the outbound half: the
credentials block, the REST v3 hook, ADF rendering and the ticket tracker
(:mod:`~integrations.jira.credentials`, :mod:`~integrations.jira.client`,
:mod:`~integrations.jira.adf`, :mod:`~integrations.jira.tracker`)."""
