"""Running checks on pairs: the session (chart, helm, cache, layers, golden files, lint),
probe renders for keys that do nothing, and waivers. Above the checks."""
