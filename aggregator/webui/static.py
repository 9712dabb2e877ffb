"""The UI's own CSS and JavaScript, shipped in the package (no CDN, no build step).

Files are read once at start; each URL carries a hash of its content (`?v=`), so
browsers may cache for a long time and still see a new release at once.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from aiohttp import web

TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml",
         ".png": "image/png", ".ico": "image/x-icon"}


class Static:
    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}
        for item in resources.files("aggregator.webui").joinpath("static").iterdir():
            suffix = "." + item.name.rsplit(".", 1)[-1]
            if item.is_file() and suffix in TYPES:
                data = item.read_bytes()
                self.files[item.name] = (data, TYPES[suffix],
                                         hashlib.sha256(data).hexdigest()[:12])

    def url(self, name: str) -> str:
        return f"/ui/static/{name}?v={self.files[name][2]}"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/ui/static/{name}", self.serve)]

    async def serve(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        data, content_type, digest = found
        if request.headers.get("If-None-Match") == f'"{digest}"':
            return web.Response(status=304, headers={"ETag": f'"{digest}"'})
        return web.Response(body=data, content_type=content_type, charset="utf-8",
                            headers={"ETag": f'"{digest}"',
                                     "Cache-Control": "public, max-age=31536000, immutable"})
