"""MLflow's model registry, as SharingHub links it into items: which registered models belong
to which project, read from MLflow's REST API in a scheduled pass (MLflow sends no events).

- ``models``: a registered model's latest version, and the project it belongs to (MLflow
  SharingHub names a project's models "<name> (<project id>)");
- ``client``: the registry and the models' MLmodel files, read over HTTP, bounded;
- ``store``: each project's models in Redis, which items are built from, and the last pass;
- ``registry_pass``: one pass: read the registry, store what changed, say which projects'
  items must be built again.

May import: indexer's infrastructure.
"""
