"""The live dashboard at ``/ui``: a static single page (plain JavaScript and SVG, every asset
served from this package, nothing from a CDN) over the REST routes, plus small read routes
of its own (``/ui/api/session``, ``/ui/api/graph``, ``/ui/api/windows``) scoped like every other
route.

``install_ui(app)`` adds the page, its assets and the routes to a ``create_app`` app.
"""

from memoryspace.server.ui.routes import ASSETS, install_ui

__all__ = ["ASSETS", "install_ui"]
