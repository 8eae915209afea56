"""Helpers shared by the training entry points and the fixture generators."""
