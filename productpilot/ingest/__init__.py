"""Getting events in: validation shared by every path, file readers, the bulk importer."""
