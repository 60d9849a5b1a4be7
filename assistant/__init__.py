"""Retrieval, prompting, generation, citations, abstention and the services built on them."""
