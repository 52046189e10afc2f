"""Exports to other tools: a spec as a standalone PyTorch script."""
