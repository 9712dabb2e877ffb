"""Channel connectors. Each one is a package with the same shape:

    connectors/<type>/__init__.py   exports the Connector subclass (entry point target)
    connectors/<type>/settings.py   its config schema (a ConnectorSettings subclass)
    connectors/<type>/...           the channel code
    tests/connectors/<type>/        its tests, against a real or wire-faithful peer
"""
