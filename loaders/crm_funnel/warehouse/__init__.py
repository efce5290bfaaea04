"""The warehouse: targets, connections, all raw DDL, bulk writes and every engine difference."""
