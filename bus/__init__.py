"""Messages that cross process boundaries, their encoding, the ZeroMQ transport and the durable journal.

`bus` imports nothing else of the project, so every component can depend on it.
"""
