"""The HTTP face of labstac: STAC API, GitLab webhook receiver, admin, health, metrics.
The only package that imports Starlette."""

from api.app import create_app

__all__ = ["create_app"]
