"""Runtime: the service assembly, the supervisor that keeps connectors and jobs alive,
features and their jobs, logging and backoff."""
