"""HealthyGAN (Rahman Siddiquee et al., SASHIMI 2022): a generator that learns to translate mixed images into
healthy ones from a healthy set and an unannotated mixed set; the anomaly score is |x - x_hat|."""
