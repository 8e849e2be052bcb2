"""Datasets: loaders for the emoMusic layout and the built-in synthetic generator."""
