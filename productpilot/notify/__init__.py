"""Notification routing: findings → rules → dedupe → digests → quiet hours → rate limits →
the outbox → channels. See docs/notifications.md."""
