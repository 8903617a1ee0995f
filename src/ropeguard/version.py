"""ropeguard's version, in a module of its own so that any layer can name it without importing the
package root (which sits above everything: it is the public API)."""

__version__ = "0.1.0"
