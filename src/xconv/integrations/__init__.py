"""Adapters that make other libraries call xconv; each is imported only on request.

``import xconv`` imports none of them, and importing this package imports nothing
either: ``import xconv.integrations.keras`` loads the Keras adapter (which itself
imports Keras only when one of its functions runs).

Modules
-------
keras
    xconv as the convolution of Keras 3's NumPy backend (``install``, ``uninstall``,
    ``use_xconv``).
"""

__all__: list[str] = []
