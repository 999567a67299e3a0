"""Collation: the month's facts from the store, and what the bureau wants to know about them."""
