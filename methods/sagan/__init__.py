"""SAGAN (Zhang et al., MICCAI 2024): semi-supervised restoration GAN with positional codes on image patches
(ACM), attention-gated decoder stages (ARRM) and FPI-style pseudo-anomalies."""
