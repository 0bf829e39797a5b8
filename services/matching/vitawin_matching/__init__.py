"""Vitawin matching: reads volunteers and requests from the bus, keeps its own read models, and
proposes the nearest eligible volunteers for each request (top k), through its outbox."""
