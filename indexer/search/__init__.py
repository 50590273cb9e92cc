"""Item search, from a client's parameters to the engine's query DSL, as pure functions.

- ``request``: the typed search request, its sort, page tokens and the query body;
- ``filter_extension``: CQL2 text and JSON filters;
- ``query_extension``: the STAC query extension;
- ``fields_extension``: which fields of an item a response keeps.

The caller's access clause comes from ``indexer.access.filter``; the API puts the two
together. May import: ``indexer.stac`` (the queryables) and indexer's infrastructure.
"""
