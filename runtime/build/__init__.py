"""Turning an app's Python into a component: `edge componentize` and `edge build`."""
