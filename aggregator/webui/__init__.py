"""The staff web UI: server-rendered pages (Jinja2, autoescaped) over the query layer
and the staff actions, with a little plain JavaScript (live queue, shortcuts).

`aggregator.webui.feature.WebUIFeature` plugs it into the service; this package's
`__init__` stays empty because the config loader imports `aggregator.webui.settings`.
"""
