"""anomalib 2.x image models behind the detector contract: `padim`, `patchcore`, `ganomaly` and `anomalib:<name>`.

Importing this package does not import anomalib; that happens when a model is built (about 7 s).
"""
