"""Alembic's environment for the class board: run on the connection that :func:`cnnviz.classroom.store.migrate`
passes in ``config.attributes["connection"]`` (no alembic.ini, no logging set-up: the app owns both)."""
from alembic import context

from cnnviz.classroom.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
