"""Vitawin requests service: what schools and pupils of the territory ask for."""
