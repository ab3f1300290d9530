"""``/docs`` without the internet: FastAPI's Swagger UI page points at a CDN, so the app turns
its own off and serves the page here with Swagger UI's files from the ``swagger-ui-bundle-v2``
package (pinned in the ``server`` extra). ReDoc, which would need a second bundle, stays off:
``/docs`` and ``/openapi.json`` cover both uses. Without the package ``/docs`` is simply absent
and ``/openapi.json`` is still served.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"


def swagger_ui_files() -> Path | None:
    """The folder of Swagger UI's files, or None when ``swagger-ui-bundle-v2`` is missing."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    folder = Path(str(swagger_ui_path))
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def install_docs(app: FastAPI) -> bool:
    """Serve Swagger UI at ``/docs`` from local files; whether it could (the app must have been
    made with ``docs_url=None`` so FastAPI's CDN page is not there too)."""
    folder = swagger_ui_files()
    if folder is None or app.openapi_url is None:
        return False
    openapi_url = app.openapi_url

    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url.lstrip("/"),  # relative: works behind a path prefix
            title=f"{app.title} API",
            swagger_js_url="docs/assets/swagger-ui-bundle.js",
            swagger_css_url="docs/assets/swagger-ui.css",
            swagger_favicon_url="docs/assets/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # no call to the public validator
        )

    app.add_api_route(DOCS_PATH, docs, methods=["GET"], include_in_schema=False)
    app.mount(ASSETS_PATH, StaticFiles(directory=folder), name="docs-assets")
    return True
