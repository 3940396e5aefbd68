"""The local Ashr server: the hosted protocol on SQLite, for tests, the quick start and laptops."""
