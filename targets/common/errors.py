"""Error pages: JSON under ``/api/``, HTML elsewhere; a 500 never shows its traceback.

Flask logs the traceback of an unhandled exception (``app.logger``, so the server log)
before it calls the 500 handler; the handler only chooses what the client sees.
"""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response


def wants_json() -> bool:
    return request.path.startswith("/api/")


def render_http_error(exc: HTTPException) -> Response:
    response = exc.get_response()  # keeps headers such as Allow on a 405
    code = exc.code or 500
    if wants_json():
        error = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
        response.set_data(current_app.json.dumps({"error": error, "message": exc.description}))
        response.content_type = "application/json"
    else:
        page = render_template("error.html", code=code, name=exc.name, description=exc.description)
        response.set_data(page)
        response.content_type = "text/html; charset=utf-8"
    return response


def internal_error(_exc: InternalServerError) -> Response:
    # a fresh exception: the original's message may hold data the client must not see
    return render_http_error(InternalServerError())


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_http_error)
    app.register_error_handler(InternalServerError, internal_error)
