"""GitHub: inbound webhooks (:mod:`integrations.github.webhooks`); outbound REST calls
(:mod:`integrations.github.client`) and GitHub issues as a tracker
(:mod:`integrations.github.tracker`)."""
