"""The SLA clock: per-priority first-response and resolution targets counted in the
agency's working time (time zone, working hours, weekdays, holidays), paused while the
ticket waits on the reporter."""
