"""Versioned data shared between components: review jobs, review policies and findings."""
