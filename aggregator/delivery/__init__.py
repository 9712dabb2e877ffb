"""Delivery: what goes out. Typed messages are queued in the caller's transaction and
the outbox sender hands them to the connector that owns their source, in order per
recipient."""
