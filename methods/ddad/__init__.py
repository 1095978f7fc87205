"""DDAD with ASR (Cai et al., MICCAI 2022 / MedIA 2023): dual-distribution discrepancy between an ensemble trained
on known normals and one trained on normals plus unlabeled images, refined by a small segmentation network."""
