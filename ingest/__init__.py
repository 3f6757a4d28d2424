"""claude-logs: Anthropic Console request logs in SQLite, deduplicated by content hash."""
