"""A tiny Django app used only by test_serve: a view that queues slow and failing background tasks."""
