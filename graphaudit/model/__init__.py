"""The typed model readers produce and everything else reads: op sets, update kinds, dtypes (see artifact.py)."""
