"""The analyses feature: one analysis from request to stored row (see router.py to start)."""
