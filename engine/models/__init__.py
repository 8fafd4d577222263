"""Generator families. Each module implements :class:`engine.models.base.Generator`."""
