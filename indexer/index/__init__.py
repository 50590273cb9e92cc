"""The index: the engine (every OpenSearch call), its layout (versioned indices behind a read
alias), versioned writes of one project's documents (``project_sync``, ``versions``), the
zero-downtime rebuild (``reindex``), the repair passes (``reconcile``), and the runtime that
builds these pieces once from the settings.

May import: ``indexer.gitlab``, ``indexer.access``, ``indexer.stac``, indexer's
infrastructure and ``mappings``.
"""
