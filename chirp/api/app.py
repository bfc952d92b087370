"""The QuartTrio application: routes per resource, no business rules."""

from __future__ import annotations

from quart import request
from quart_trio import QuartTrio
from werkzeug.exceptions import RequestEntityTooLarge

from chirp.services import Services

from .auth import auth_routes
from .operations import operations_routes
from .problems import install_problem_handlers
from .tweets import tweets_routes
from .users import users_routes


def create_app(services: Services, *, max_body_bytes: int = 64 * 1024) -> QuartTrio:
    app = QuartTrio("chirp")
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    install_problem_handlers(app)

    @app.before_request
    async def refuse_oversized_bodies() -> None:
        # Quart enforces the limit only when a handler reads the body; refuse a declared
        # oversize body up front, whatever the route. (Undeclared, chunked bodies are cut
        # off at the limit when read.)
        length = request.content_length
        if length is not None and length > max_body_bytes:
            raise RequestEntityTooLarge()

    app.register_blueprint(operations_routes(services.operations))
    app.register_blueprint(auth_routes(services.users))
    app.register_blueprint(users_routes(services.users))
    app.register_blueprint(tweets_routes(services.tweets, services.users))
    return app
