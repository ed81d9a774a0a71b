"""Datasets, losses, training loops and evaluation for the visual-attention studio."""
