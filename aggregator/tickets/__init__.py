"""Tickets: staff actions, ticket rules (titles, SLA targets) and the read-side query
layer that the JSON API, the CLI and the web UI share."""
