"""Architecture fingerprints of keras.applications models, and the matcher that finds them."""

from graphaudit.catalog.matcher import (
    ArchitectureMatch,
    Catalog,
    Fingerprint,
    Variant,
    WeightSpec,
    catalog_initializer,
    catalog_weight,
    load_catalog,
    match_architectures,
)

__all__ = [
    "ArchitectureMatch",
    "Catalog",
    "Fingerprint",
    "Variant",
    "WeightSpec",
    "catalog_initializer",
    "catalog_weight",
    "load_catalog",
    "match_architectures",
]
