"""ALOCC (Sabokrou et al., CVPR 2018): a refiner R (denoising encoder-decoder) and a discriminator D trained
adversarially on normal images; D(R(x)) is the one-class score."""
