"""f-AnoGAN (Schlegl et al., Medical Image Analysis 2019): a WGAN-GP trained on normal images, then an encoder
trained with G and D frozen (izi_f); the score is the image residual plus kappa times D's feature residual."""
