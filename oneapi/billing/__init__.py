"""Quota and billing: ratio tables and lookups."""
