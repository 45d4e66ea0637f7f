"""Linear: inbound webhooks (:mod:`integrations.linear.webhooks`); outbound, the GraphQL hook
(:mod:`~integrations.linear.client`), its credentials block and the issue tracker."""
