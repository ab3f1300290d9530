"""MemorySpace."""
