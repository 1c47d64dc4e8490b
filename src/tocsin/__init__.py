"""Tocsin: public warnings that people can trust."""

__version__ = "0.1.0"
