"""Vitawin actors service: professionals who pledge to act for pupils of the territory."""
