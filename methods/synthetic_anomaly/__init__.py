"""CutPaste, FPI, PII and NSA: one synthetic-anomaly core (patch_ex), one ResNet-18 encoder-decoder, four tasks."""
