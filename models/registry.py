"""Every module that declares tables, imported together so that `metadata` is the whole schema.

Alembic's environment and the migration test use this; application code imports what it needs.
"""

from __future__ import annotations

from models import channels, llm_schema, routing_schema, schema, team_workspace, training_schema
from models.schema import Base

TABLE_MODULES = (schema, channels, routing_schema, llm_schema, training_schema, team_workspace)
metadata = Base.metadata
