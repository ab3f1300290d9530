"""Adapters that plug MemorySpace into agent frameworks.

Each adapter lives in its own module and imports its framework, which comes with an extra:
``memoryspace.integrations.langgraph`` (``pip install 'memoryspace[langgraph]'``) and
``memoryspace.integrations.agentscope`` (``pip install 'memoryspace[agentscope]'``). Importing
this package imports neither framework.
"""
