from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    pass

SERVICE: web.AppKey[Any] = web.AppKey("service")

__all__ = ["SERVICE", "Service"] if TYPE_CHECKING else ["SERVICE"]
