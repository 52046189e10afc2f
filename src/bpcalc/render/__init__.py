"""Pure functions from traces to output: a document model (doc), its renderers (text, rich, markdown), and JSON."""
