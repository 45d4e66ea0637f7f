"""Microsoft Teams: outbound notifications as Adaptive Cards through channel webhooks.

:mod:`~integrations.teams.credentials` holds the webhook block, :mod:`~integrations.teams.client`
the hook that posts, :mod:`~integrations.teams.cards` the rendering and
:mod:`~integrations.teams.channel` the outbox channel.
"""
