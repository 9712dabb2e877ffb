"""Escalation: ordered levels (duty supervisor -> head of unit -> communications) with
triggers (going viral, many reports in a window, watch words, SLA due or breached),
actions (priority, unit, assignee, notify) and repeat-until-acknowledged timing."""
