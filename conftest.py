"""Root conftest: the harness_refarch plugin itself is loaded through its pytest11 entry point.

Only what the project's own tests need lives here (pytester drives the plugin end to end).
"""

pytest_plugins = ["pytester"]
