"""Vitawin notify service: tells the professional and the requester about each proposal by email."""
