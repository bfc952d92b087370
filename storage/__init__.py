"""Stores behind protocols (`storage.protocols`), one sub-package per backend."""
