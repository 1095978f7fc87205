"""ALAD (Zenati et al., ICDM 2018): a BiGAN with an encoder E, a generator G and three discriminators (D_xz,
D_xx, D_zz) with spectral norm, trained on normal images; the score is D_xx's feature-matching distance."""
