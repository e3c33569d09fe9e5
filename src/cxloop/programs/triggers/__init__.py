"""Triggered actions: rules over new data and segments, decided in the warehouse engine,
written to the programs store with the outbox that delivers them (docs/triggers.md)."""
