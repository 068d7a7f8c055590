"""Console pages: each view parses a form, calls one service, renders a template."""
