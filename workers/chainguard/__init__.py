"""The Chainguard mapping: which Chainguard image stands in for an upstream one.

``catalog`` (the model and its YAML in ``data/``, pure) → ``alternatives`` (a reference → its
mapping, pure) ← ``refresh`` (asks the Chainguard registry what it serves) → ``state`` (the
refreshed catalog shared through Redis).
"""
