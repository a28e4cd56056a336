"""The model: findings, quantities, the parsed manifest, identities, redaction, connection
strings, the reference-architecture catalogue and usage totals. Imports nothing of the suite
above it: every other layer reads these types."""
