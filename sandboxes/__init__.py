"""Sandbox images and runners; filled in by the sandbox work."""
