"""The pytest plugin (hooks, run state, collection, fixtures, terminal summary, xdist). The top
of the house with the command line: nothing imports it."""
