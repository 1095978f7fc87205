"""Metrics: image-level (AUC, AP, thresholded F1 / precision / recall / specificity, bootstrap CIs; `image`),
pixel-level localisation (`localisation`) and the one catalogue of metric names tables read (`table`)."""
