"""Adapters to training frameworks: PyTorch, Hugging Face transformers, Lightning, optax.

Each module imports its framework; importing ``lrkit`` itself imports none of them.
"""
