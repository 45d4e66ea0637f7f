"""Reports: HTML documents with embedded charts, written by the analytics flows."""
