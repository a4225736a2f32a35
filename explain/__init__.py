"""Explanations: reasons as sentences, drivers, rep profiles, service contribution, what-if."""
