"""Scoliosis screening from a walking video.

A video becomes anonymous binary silhouettes, and the ScoNet-MT gait model
(MICCAI 2024, "Gait Patterns as Biomarkers") turns them into a screening
verdict: positive, neutral or negative, with a confidence.
"""

__version__ = "0.1.0"
