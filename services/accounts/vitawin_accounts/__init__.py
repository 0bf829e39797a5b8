"""Vitawin accounts: who may sign in, as whom, and the access tokens the other services verify."""
