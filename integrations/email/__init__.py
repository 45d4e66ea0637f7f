"""E-mail: outbound notifications over SMTP with ``prefect_email.EmailServerCredentials``.

:mod:`~integrations.email.messages` builds the e-mail (headers, plain-text and HTML parts);
:mod:`~integrations.email.channel` is the outbox channel that sends it.
"""
