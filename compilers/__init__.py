"""Target-language compilers; filled in by the compilers work."""
