"""Tables and figures from cross-validation summaries."""
