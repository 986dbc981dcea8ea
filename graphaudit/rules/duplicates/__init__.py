"""GA1xx: extra copies of a model in a graph: an orphaned second copy, or unused instances."""
