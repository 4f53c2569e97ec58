"""The demo world: the seed page's 7 experiments and 17 models, built for real.

``python -m demo.serve`` (``make run``) starts moto's S3 server, builds a sqlite MLflow
tracking store with :func:`demo.world.build_world`, syncs it into the catalogue and
serves the site. See docs/demo.md.
"""
