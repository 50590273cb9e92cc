"""A GitLab simulator: GitLab's REST API v4, its permission rules as an oracle, its system
hooks and webhooks, and worlds to serve (generated from a seed, or the demo).

It is the demo GitLab of ``make up`` and the GitLab of the tests and benchmarks; labstac's
own packages (``indexer``, ``workers``, ``api``, ``mappings``) never import it, and it
imports nothing of theirs. ``make venv`` installs it with labstac and its ``dev`` extra;
the production image leaves it out. See docs/gitlab-simulator.md.
"""
