"""Brainomaly (Rahman Siddiquee et al., WACV 2024): a generator that learns an additive map turning mixed images into
healthy-looking ones, x' = tanh(x + G(x)), from a healthy set and an unannotated mixed set; the anomaly score is
mean |x - x'| / 2."""
