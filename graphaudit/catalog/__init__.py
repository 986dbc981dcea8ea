"""Architecture fingerprints of keras.applications models, and the matcher that finds them."""

from graphaudit.catalog.matcher import *  # noqa: F403  (the matcher's __all__ is the package's API)
from graphaudit.catalog.matcher import __all__  # noqa: F401
