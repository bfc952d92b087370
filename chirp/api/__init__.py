"""HTTP: routes per resource, schemas and errors. Talks to services only."""

from .app import create_app as create_app
