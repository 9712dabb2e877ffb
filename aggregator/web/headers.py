"""Security headers on every response the web app sends (API, webhooks, later the UI).

HTML gets a Content-Security-Policy that allows our own scripts, styles and images
only (no inline script, no framing); every other response gets one that allows
nothing, which costs nothing for JSON and stops a browser from running anything if a
response is ever opened as a page. API answers are never cached.
"""

from __future__ import annotations

from aiohttp import web

from aggregator.web.errors import Handler

HTML_POLICY = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'; form-action 'self'")
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # a streamed response has sent its headers already
        return
    for name, value in ALWAYS.items():
        response.headers.setdefault(name, value)
    html = response.content_type in ("text/html", "application/xhtml+xml")
    response.headers.setdefault("Content-Security-Policy", HTML_POLICY if html else OTHER_POLICY)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # an error answer is a response too
        add_security_headers(request, exc)
        raise
    add_security_headers(request, response)
    return response
