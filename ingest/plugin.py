"""Datasette plugin: the canned queries for every database that has a claude-logs `logs` table.

Registered through the `datasette` entry point in pyproject.toml, so plain `datasette logs.db`
loads it.
"""

from __future__ import annotations

from functools import cache

from datasette import hookimpl

from .queries import load_queries

# Columns the canned queries read. A `logs` table without them belongs to another tool.
_REQUIRED_COLUMNS = {
    "content_hash",
    "model",
    "model_latency",
    "started_at",
    "error_code",
    "error_detail",
    "prompt_token_count",
    "completion_token_count",
    "workspace_id",
    "api_key_uuid",
}


# Datasette calls the hook for most pages, and the installed files do not change meanwhile.
_load_queries = cache(load_queries)


@hookimpl
def canned_queries(datasette, database):
    """Offer the canned queries for a database with our `logs` table, and none for others."""

    async def queries_for_database():
        db = datasette.get_database(database)
        if not await db.table_exists("logs"):
            return {}
        if not _REQUIRED_COLUMNS <= set(await db.table_columns("logs")):
            return {}
        return {
            query.name: {
                "sql": query.body,
                "title": query.title,
                "description": query.description,
                "params": query.parameter_names,
            }
            for query in _load_queries().values()
        }

    return queries_for_database
